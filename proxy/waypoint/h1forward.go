package waypoint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/wayfabric/wayfabric/proxy/waypoint/h1"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// outField is a header field to send: from the parsed head (b) or made
// by the proxy (s).
type outField struct {
	nameB, valB []byte
	nameS, valS string
}

func (f *outField) is(canonical string) bool {
	if f.nameB != nil {
		return h1.EqualFoldString(f.nameB, canonical)
	}
	return strings.EqualFold(f.nameS, canonical)
}

func (f *outField) write(bw *bufio.Writer) {
	if f.nameB != nil {
		bw.Write(f.nameB)
	} else {
		bw.WriteString(f.nameS)
	}
	bw.WriteString(": ")
	if f.nameB != nil {
		bw.Write(f.valB)
	} else {
		bw.WriteString(f.valS)
	}
	bw.WriteString("\r\n")
}

// applyModifier runs a Gateway API header modifier on the field list:
// set, then add, then remove (the same order as HeaderModifier.Apply).
func applyModifier(out []outField, m *routing.HeaderModifier) []outField {
	if m == nil {
		return out
	}
	for _, hv := range m.Set {
		out = removeField(out, hv.Name)
		out = append(out, outField{nameS: hv.Name, valS: hv.Value})
	}
	for _, hv := range m.Add {
		out = append(out, outField{nameS: hv.Name, valS: hv.Value})
	}
	for _, n := range m.Remove {
		out = removeField(out, n)
	}
	return out
}

func removeField(out []outField, name string) []outField {
	j := 0
	for i := range out {
		if !out[i].is(name) {
			out[j] = out[i]
			j++
		}
	}
	clear(out[j:])
	return out[:j]
}

// methodString avoids an allocation for the common methods.
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "HEAD":
		return http.MethodHead
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return string(m)
}

// lookupHeader joins the values of a request field for route matching.
func (c *h1conn) lookupHeader(name string) (string, bool) {
	var val []byte
	found := false
	for i := range c.req.Fields {
		f := &c.req.Fields[i]
		if h1.EqualFoldString(f.Name, name) {
			if found {
				val = append(append(val, ','), f.Value...)
			} else {
				val = append(c.scratch[:0], f.Value...) //nolint:gocritic // reuses the connection's scratch space
				found = true
			}
		}
	}
	if !found {
		return "", false
	}
	return string(val), true
}

// serveRequest serves the parsed request c.req; keep reports whether the
// connection may carry another request.
func (c *h1conn) serveRequest(ctx context.Context) (keep bool, err error) {
	req := &c.req
	p := c.p
	if req.Upgrade || req.Expect || req.Chunked || bytes.Equal(req.Method, []byte("CONNECT")) {
		return false, c.handoverNow()
	}
	path, query, origin, perr := h1.OriginForm(req.Target)
	if perr != nil {
		c.writeSimple(perr.(*h1.Error).Status, perr.Error(), true, nil)
		return false, perr
	}
	if !origin {
		return false, c.handoverNow()
	}
	d := p.table.Load().Lookup(c.sc.dst)
	if d == nil {
		return c.answer(http.StatusServiceUnavailable, "destination no longer uses this waypoint\n", "none", "unknown", nil)
	}
	view := routing.Request{
		Method: methodString(req.Method), Host: string(req.Host), EscapedPath: string(path), Header: c.lookupHeader,
		Client: c.sc.clientNS,
	}
	if len(query) > 0 {
		view.RawQuery = string(query)
	}
	// Routing first (it is pure), so that a request handed over to net/http
	// is authorized once, there.
	dec := d.DecideRequest(&view, rand.Uint64())
	rule := dec.Match.Rule
	if dec.GRPC || (dec.Status == 0 && (rule.Retry != nil || len(rule.Mirrors) > 0 || rule.RequestTimeout > 0 || rule.BackendTimeout > 0 || dec.Backend.Backend.H2C)) {
		// Features the fast path leaves to net/http (handler.go): GRPCRoutes
		// (gRPC is HTTP/2; its errors are gRPC statuses), retries, timeouts,
		// mirrors, h2c backends.
		return false, c.handoverNow()
	}
	if d.Authz != nil && !c.authorize(ctx, d, &view) {
		return c.answer(http.StatusForbidden, deniedBody, "none", d.ServiceLabel, nil)
	}
	routeLabel := "none"
	if rule != nil {
		routeLabel = rule.RouteLabel
	}
	serviceLabel := d.ServiceLabel
	switch {
	case dec.Preflight:
		// A CORS preflight, answered here: 204 and the filter's headers.
		h := http.Header{}
		dec.ApplyResponseHeaders(h)
		return c.answer(dec.Status, "", routeLabel, serviceLabel, func(bw *bufio.Writer) { _ = h.Write(bw) })
	case dec.Location != "":
		h := http.Header{}
		dec.ApplyResponseHeaders(h)
		h.Set("Location", dec.Location)
		return c.answer(dec.Status, "", routeLabel, serviceLabel, func(bw *bufio.Writer) { _ = h.Write(bw) })
	case dec.Status != 0:
		return c.answer(dec.Status, dec.Reason, routeLabel, serviceLabel, nil)
	}
	start := p.rec.Begin()
	status := http.StatusOK
	defer func() {
		if v := recover(); v != nil {
			// A bug must cost one request, not the process; count it loudly.
			p.panics.Add(1)
			p.cfg.Log.Error(fmt.Errorf("%v", v), "panic serving request", "path", view.EscapedPath)
			status, keep, err = http.StatusInternalServerError, false, errors.New("panic")
			c.up = nil
		}
		p.metrics.Observe(routeLabel, serviceLabel, status, p.rec.End(start))
	}()
	status, keep, err = c.forward(ctx, &dec)
	return keep, err
}

// answer sends a response the waypoint makes itself and counts it.
func (c *h1conn) answer(status int, body, route, service string, extra func(*bufio.Writer)) (bool, error) {
	start := c.p.rec.Begin()
	keep := c.respond(status, body, extra)
	c.p.metrics.Observe(route, service, status, c.p.rec.End(start))
	return keep, nil
}

// respond sends a response the waypoint makes itself (not counted: the
// caller counts the request) after dropping the request's body; keep
// reports whether the connection can carry another request.
func (c *h1conn) respond(status int, body string, extra func(*bufio.Writer)) bool {
	keep := !c.req.Close && !c.p.draining.Load() && c.skipBody()
	c.writeSimple(status, body, !keep, extra)
	return keep
}

// skipBody consumes the request and its body (up to 256 KiB read and
// dropped); false means the connection cannot be reused.
func (c *h1conn) skipBody() bool {
	n := int64(max(c.req.ContentLength, 0))
	avail := int64(c.w - c.r - c.req.HeadLen)
	if n <= avail {
		c.consume(c.req.HeadLen + int(n))
		return true
	}
	if n > 256<<10 {
		return false
	}
	c.consume(c.w - c.r)
	_, err := io.CopyN(io.Discard, c.sc, n-avail)
	return err == nil
}

// forward sends the request upstream and relays the answer.
func (c *h1conn) forward(ctx context.Context, dec *routing.Decision) (status int, keep bool, err error) {
	p := c.p
	req := &c.req
	ep, inflight := p.lb.choose(dec.Backend.Backend.Endpoints, netip.AddrPort{})
	defer inflight.Add(-1)
	client := p.up.plainH1
	if ep.InMesh {
		client = p.up.meshH1
	}
	host, err := c.upstreamFields(dec)
	if err != nil {
		return http.StatusBadRequest, c.respond(http.StatusBadRequest, "bad request header\n", nil), nil
	}
	c.decPath = dec.Path
	cl := max(req.ContentLength, 0)
	inBuf := min(int64(c.w-c.r-req.HeadLen), cl)
	replayable := inBuf == cl
	var uc *h1Conn
	for attempt := 0; ; attempt++ {
		var reused bool
		uc, reused, err = client.get(ctx, ep, attempt > 0) // the retry dials: other idle connections likely died alike
		if err != nil {
			return c.upstreamFailed(err, false)
		}
		c.setUpstream(uc)
		err = c.writeUpstream(uc, req, host, cl, inBuf)
		if err == nil {
			err = c.readResponseHead(uc)
		}
		if err == nil {
			break
		}
		uc.nc.Close()
		c.setUpstream(nil)
		if errors.Is(err, errClientBody) {
			return http.StatusBadRequest, false, nil // the client went away mid-body
		}
		if reused && attempt == 0 && replayable && isClosedConn(err) {
			continue // a kept-alive connection the upstream had closed
		}
		return c.upstreamFailed(err, !replayable)
	}
	c.consume(req.HeadLen + int(inBuf))
	status = c.resp.Status
	keep, reuse, err := c.relayResponse(uc, dec)
	c.setUpstream(nil)
	if reuse {
		client.put(uc)
	} else {
		uc.nc.Close()
	}
	return status, keep, err
}

var errClientBody = errors.New("client request body ended early")

// upstreamFailed answers 502. bodyGone: part of the request body was
// already read from the client, so the connection's framing is lost.
func (c *h1conn) upstreamFailed(err error, bodyGone bool) (int, bool, error) {
	c.p.cfg.Log.V(1).Info("upstream request failed", "error", err.Error())
	if bodyGone {
		c.writeSimple(http.StatusBadGateway, "upstream connect error\n", true, nil)
		return http.StatusBadGateway, false, nil
	}
	return http.StatusBadGateway, c.respond(http.StatusBadGateway, "upstream connect error\n", nil), nil
}

func (c *h1conn) setUpstream(uc *h1Conn) {
	c.p.l4mu.Lock()
	c.up = uc
	c.p.l4mu.Unlock()
}

// upstreamFields computes the forwarded fields into c.out (only when a
// modifier or X-Forwarded-For needs the list) and the upstream Host.
func (c *h1conn) upstreamFields(dec *routing.Decision) (string, error) {
	req := &c.req
	c.out = c.out[:0]
	for i := range req.Fields {
		f := &req.Fields[i]
		if h1.HopByHop(f.Name) || h1.EqualFold(f.Name, "host") || h1.EqualFold(f.Name, "x-forwarded-for") || h1.Listed(req.ConnTokens, f.Name) {
			continue
		}
		c.out = append(c.out, outField{nameB: f.Name, valB: f.Value})
	}
	if req.TeTrailers {
		c.out = append(c.out, outField{nameS: "Te", valS: "trailers"}) // gRPC needs it end to end
	}
	if req.XffCount > 0 || c.srcIP != "" {
		c.out = append(c.out, outField{nameS: "X-Forwarded-For", valS: c.forwardedFor()})
	}
	host := dec.Host
	rule := dec.Match.Rule
	if rule.RequestHeaders != nil || dec.Backend.RequestHeaders != nil {
		c.out = applyModifier(c.out, rule.RequestHeaders)
		c.out = applyModifier(c.out, dec.Backend.RequestHeaders)
		for i := range c.out {
			if c.out[i].is("Host") {
				host = c.out[i].valS
				c.out = removeField(c.out, "Host")
				break
			}
		}
	}
	if !httpguts.ValidHostHeader(host) {
		return "", fmt.Errorf("invalid host %q", host)
	}
	return host, nil
}

// forwardedFor is X-Forwarded-For with the client appended.
func (c *h1conn) forwardedFor() string {
	if c.req.XffCount == 0 {
		return c.srcIP
	}
	var b strings.Builder
	for i := range c.req.Fields {
		f := &c.req.Fields[i]
		if h1.EqualFold(f.Name, "x-forwarded-for") {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.Write(f.Value)
		}
	}
	if c.srcIP != "" {
		b.WriteString(", ")
		b.WriteString(c.srcIP)
	}
	return b.String()
}

// writeUpstream writes the request head and body on uc.
func (c *h1conn) writeUpstream(uc *h1Conn, req *h1.Request, host string, cl, inBuf int64) error {
	bw := uc.bw
	bw.Write(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(c.decPath)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for i := range c.out {
		c.out[i].write(bw)
	}
	switch {
	case cl > 0:
		bw.WriteString("Content-Length: ")
		c.scratch = appendInt(c.scratch[:0], cl)
		bw.Write(c.scratch)
		bw.WriteString("\r\n")
	case bytes.Equal(req.Method, []byte("POST")) || bytes.Equal(req.Method, []byte("PUT")) || bytes.Equal(req.Method, []byte("PATCH")):
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
	if inBuf > 0 {
		off := c.r + req.HeadLen
		bw.Write(c.buf[off : off+int(inBuf)])
	}
	if rest := cl - inBuf; rest > 0 {
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		for rest > 0 {
			n, err := c.sc.Read((*bp)[:min(int64(len(*bp)), rest)])
			if n > 0 {
				if _, werr := bw.Write((*bp)[:n]); werr != nil {
					return werr
				}
				rest -= int64(n)
			}
			if err != nil && rest > 0 {
				return errClientBody
			}
		}
	}
	return bw.Flush()
}
