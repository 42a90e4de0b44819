package routing

import (
	"net/http"
)

// Decision is what the proxy must do with one request.
type Decision struct {
	// Status is 0 to forward; otherwise the response to send (404, 500, 503, 3xx).
	Status int
	// Reason is the plain-text body for error statuses.
	Reason   string
	Location string
	Match    Match
	Backend  *WeightedBackend
	// Path (escaped, with query) and Host to send upstream.
	Path string
	Host string
}

// Decide routes r. rnd is a random number used for weighted backend choice.
func (d *Destination) Decide(r *http.Request, rnd uint64) Decision {
	v := ViewOf(r)
	return d.DecideRequest(&v, rnd)
}

// DecideRequest is Decide for a routing view of the request.
func (d *Destination) DecideRequest(r *Request, rnd uint64) Decision {
	path := NormalizePath(r.EscapedPath)
	m := d.route(r, path)
	if m.Rule == nil {
		return Decision{Status: http.StatusNotFound, Reason: "no route matches this request\n"}
	}
	dec := Decision{Match: m, Host: r.Host}
	rule := m.Rule
	if rule.Redirect != nil {
		dec.Status = rule.Redirect.StatusCode
		dec.Location = rule.Redirect.Location(r, path, m.Prefix, d.Port)
		return dec
	}
	wb := rule.PickBackend(rnd)
	switch {
	case wb == nil:
		dec.Status, dec.Reason = http.StatusInternalServerError, "route "+rule.RouteLabel+" has no backend to send this request to\n"
		return dec
	case wb.Backend.Invalid != "":
		dec.Status, dec.Reason = http.StatusInternalServerError, wb.Backend.Invalid+"\n"
		return dec
	case len(wb.Backend.Endpoints) == 0:
		// Spec: a Service without ready endpoints SHOULD get 503.
		dec.Status, dec.Reason = http.StatusServiceUnavailable, "backend "+wb.Backend.Label()+" has no ready endpoints\n"
		return dec
	}
	dec.Backend = wb
	dec.Path, dec.Host = rule.Rewrite.Apply(path, r.Host, m.Prefix)
	if q := r.RawQuery; q != "" {
		dec.Path += "?" + q
	}
	return dec
}

// ApplyRequestHeaders runs the rule's then the backendRef's request header
// modifiers. A modified Host header becomes the request host.
func (dec *Decision) ApplyRequestHeaders(h http.Header, host *string) {
	dec.Match.Rule.RequestHeaders.Apply(h)
	if dec.Backend != nil {
		dec.Backend.RequestHeaders.Apply(h)
	}
	if v := h.Get("Host"); v != "" {
		*host = v
		delete(h, "Host")
	}
}

// ApplyResponseHeaders runs the backendRef's then the rule's response header modifiers.
func (dec *Decision) ApplyResponseHeaders(h http.Header) {
	if dec.Backend != nil {
		dec.Backend.ResponseHeaders.Apply(h)
	}
	if dec.Match.Rule != nil {
		dec.Match.Rule.ResponseHeaders.Apply(h)
	}
}
