package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// The echo body: one key=value per line, the field names of the suite's
// parser (sigs.k8s.io/gateway-api/conformance/utils/echo, after Istio's).
const (
	fieldServiceVersion = "ServiceVersion"
	fieldServicePort    = "ServicePort"
	fieldStatusCode     = "StatusCode"
	fieldURL            = "URL"
	fieldHost           = "Host"
	fieldHostname       = "Hostname"
	fieldMethod         = "Method"
	fieldProto          = "Proto"
	fieldIP             = "IP"
	fieldAlpn           = "Alpn"
	fieldRequestHeader  = "RequestHeader"
	fieldResponseHeader = "ResponseHeader"
	fieldEcho           = "Echo"
	fieldCluster        = "Cluster"
)

func writeField(w io.Writer, key, value string) {
	fmt.Fprintf(w, "%s=%s\n", key, value)
}

// writeHeaders writes one key:value line per header value, sorted by name so
// the output is stable.
func writeHeaders(w io.Writer, field string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			writeField(w, field, k+":"+v)
		}
	}
}

// hostname is the pod's name: the kubelet sets the container's hostname to it.
func hostname() string {
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// bodyLines turns a multi-line echo body into its non-empty lines.
func bodyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}
