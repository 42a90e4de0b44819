package routing

import (
	"maps"
	"net/http"
	"slices"
)

// Decision is what the proxy must do with one request.
type Decision struct {
	// Status is 0 to forward; otherwise the response to send (404, 500, 503, 3xx,
	// or 204 for a CORS preflight).
	Status int
	// Reason is the plain-text body for error statuses.
	Reason   string
	Location string
	Match    Match
	Backend  *WeightedBackend
	// Path (escaped, with query) and Host to send upstream.
	Path string
	Host string
	// GRPC: the request was routed by GRPCRoutes, so errors the waypoint
	// generates for a gRPC client are gRPC statuses (GEP-1016).
	GRPC bool
	// Preflight: the answer is a CORS preflight response (Status 204), whose
	// headers ApplyResponseHeaders writes.
	Preflight bool
	// cors is what the CORS filter reads of the request (origin "": the
	// filter does not apply).
	cors corsRequest
}

// Decide routes r for a client whose namespace is unknown (producer routes).
// rnd is a random number used for weighted backend choice.
func (d *Destination) Decide(r *http.Request, rnd uint64) Decision {
	v := ViewOf(r)
	return d.DecideRequest(&v, rnd)
}

// DecideRequest is Decide for a routing view of the request; r.Client
// selects the client namespace's consumer routes.
func (d *Destination) DecideRequest(r *Request, rnd uint64) Decision {
	path := NormalizePath(r.EscapedPath)
	m := d.route(r, path)
	grpc := d.routesFor(r.Client).grpc
	if m.Rule == nil {
		return Decision{Status: http.StatusNotFound, Reason: "no route matches this request\n", GRPC: grpc}
	}
	dec := Decision{Match: m, Host: r.Host, GRPC: grpc}
	rule := m.Rule
	if rule.CORS != nil {
		if dec.cors = readCORSRequest(r); dec.cors.origin != "" && dec.cors.isPreflight(r.Method) {
			// Fetch standard: a preflight is answered by the CORS filter and
			// never reaches the backend or a redirect.
			dec.Status, dec.Preflight = http.StatusNoContent, true
			return dec
		}
	}
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

// ApplyResponseHeaders runs the backendRef's then the rule's response header
// modifiers, then the rule's CORS filter.
func (dec *Decision) ApplyResponseHeaders(h http.Header) {
	if dec.Backend != nil {
		dec.Backend.ResponseHeaders.Apply(h)
	}
	if dec.Match.Rule == nil {
		return
	}
	dec.Match.Rule.ResponseHeaders.Apply(h)
	if dec.HasCORS() {
		dec.CORSHeaders(func() []string { return slices.Collect(maps.Keys(h)) }).Apply(h)
	}
}

// HasCORS reports whether the rule's CORS filter adds headers to this
// response (the request came with an Origin).
func (dec *Decision) HasCORS() bool {
	return dec.cors.origin != "" && dec.Match.Rule != nil && dec.Match.Rule.CORS != nil
}

// CORSHeaders returns what the rule's CORS filter does to the response, to
// run after the response header modifiers; nil when nothing. respNames
// lists the response's header names (canonical form); it is called only
// when exposeHeaders "*" must be spelled out (with credentials).
func (dec *Decision) CORSHeaders(respNames func() []string) *HeaderModifier {
	if !dec.HasCORS() {
		return nil
	}
	c := dec.Match.Rule.CORS
	if dec.Preflight {
		return c.preflight(&dec.cors)
	}
	return c.actual(&dec.cors, respNames)
}
