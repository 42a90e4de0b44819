package waypoint

import "net/http"

// statusWriter remembers the status for metrics and whether headers went out.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
	proto int
	// grpc: errors this proxy generates are gRPC statuses (the request is
	// gRPC and was routed by GRPCRoutes).
	grpc bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.code, w.wrote = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

func (w *statusWriter) protoMajor() int { return w.proto }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
