package routing

import (
	"net/http"
	"net/url"
)

// Request is what routing reads from a request. The waypoint's own
// HTTP/1.1 path fills it from its parser without building an
// *http.Request; Decide fills it from one.
type Request struct {
	Method string
	// Host is the request's authority (Host header or absolute-form target).
	Host string
	// EscapedPath is the path as sent (percent-encoded), without the query.
	EscapedPath string
	RawQuery    string
	TLS         bool
	// Client is the namespace of the client workload (from the tunnel's
	// verified SPIFFE identity; "" when unknown): it selects that
	// namespace's consumer routes (GEP-1294).
	Client string
	// Header returns the values of a header field joined with "," and
	// whether it is present; name is in canonical form. Nil means no fields.
	Header func(name string) (string, bool)
}

func (r *Request) header(name string) (string, bool) {
	if r.Header == nil {
		return "", false
	}
	return r.Header(name)
}

// ViewOf returns the routing view of an *http.Request.
func ViewOf(r *http.Request) Request {
	h := r.Header
	return Request{
		Method: r.Method, Host: r.Host, EscapedPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, TLS: r.TLS != nil,
		Header: func(name string) (string, bool) {
			vals, ok := h[name]
			if !ok {
				return "", false
			}
			return joinValues(vals), true
		},
	}
}

// query parses the raw query once per request, and only if a match needs it.
func (r *Request) query() url.Values {
	q, _ := url.ParseQuery(r.RawQuery)
	return q
}
