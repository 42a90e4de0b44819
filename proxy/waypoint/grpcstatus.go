package waypoint

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// gRPC status codes (grpc/grpc doc/statuscodes.md) the waypoint generates.
const (
	grpcUnknown          = 2
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcCode maps an error the waypoint generates to a gRPC status. It follows
// gRPC's HTTP-to-gRPC mapping (doc/http-grpc-status-mapping.md), except that
// a route without a usable backend (500) is UNAVAILABLE, as GRPCRoute
// requires of invalid backendRefs.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestHeaderFieldsTooLarge:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	}
	return grpcUnknown
}

// grpcError answers a gRPC request with a Trailers-Only response: HTTP 200,
// and grpc-status and grpc-message in the only header block, which is what
// gRPC clients read; an HTTP error status would reach them as a transport
// error instead of the status the spec asks for.
func grpcError(w *statusWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(grpcCode(status)))
	h.Set("Grpc-Message", grpcEncode(strings.TrimSpace(msg)))
	w.ResponseWriter.WriteHeader(http.StatusOK)
	// Recorded as the HTTP status the error stands for, for metrics and logs.
	w.code, w.wrote = status, true
}

// grpcEncode percent-encodes a grpc-message value (gRPC over HTTP/2: bytes
// outside printable ASCII and "%" are encoded).
func grpcEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
