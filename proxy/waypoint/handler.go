package waypoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wayfabric/wayfabric/proxy/internal/ctxtime"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// ServeHTTP routes and forwards one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.rec.Begin()
	rw := &statusWriter{ResponseWriter: w, proto: r.ProtoMajor}
	routeLabel, serviceLabel := "none", "unknown"
	defer func() {
		if v := recover(); v != nil {
			// A bug must cost one request, not the process; count it loudly.
			p.panics.Add(1)
			p.cfg.Log.Error(fmt.Errorf("%v", v), "panic serving request", "path", r.URL.Path)
			if !rw.wrote {
				plainError(rw, http.StatusInternalServerError, "internal error\n")
			}
		}
		p.metrics.Observe(routeLabel, serviceLabel, rw.status(), p.rec.End(start))
	}()
	if p.draining.Load() && r.ProtoMajor == 1 {
		// Tell HTTP/1 keep-alive clients to reconnect (to a ready replica).
		rw.Header().Set("Connection", "close")
	}
	if r.Method == http.MethodConnect {
		plainError(rw, http.StatusMethodNotAllowed, "CONNECT is not proxied by the waypoint\n")
		return
	}

	dst, _ := r.Context().Value(dstKey{}).(netip.AddrPort)
	d := p.table.Load().Lookup(dst)
	if d == nil {
		plainError(rw, http.StatusServiceUnavailable, "destination no longer uses this waypoint\n")
		return
	}
	serviceLabel = d.ServiceLabel
	if d.Authz != nil && !p.authorizeRequest(rw, r, d, dst) {
		return
	}
	v := routing.ViewOf(r)
	v.Client, _ = r.Context().Value(clientNSKey{}).(string)
	dec := d.DecideRequest(&v, rand.Uint64())
	if dec.Match.Rule != nil {
		routeLabel = dec.Match.Rule.RouteLabel
	}
	rw.grpc = dec.GRPC && routing.IsGRPC(r.Header.Get("Content-Type"))
	switch {
	case dec.Preflight:
		dec.ApplyResponseHeaders(rw.Header())
		rw.WriteHeader(dec.Status)
		return
	case dec.Location != "":
		dec.ApplyResponseHeaders(rw.Header())
		rw.Header().Set("Location", dec.Location)
		rw.WriteHeader(dec.Status)
		return
	case dec.Status != 0:
		plainError(rw, dec.Status, dec.Reason)
		return
	}
	p.forward(rw, r, &dec)
}

// forward sends the request to an endpoint of the chosen backend, with the
// rule's timeouts, retries and mirrors, and copies the response back.
func (p *Proxy) forward(w *statusWriter, r *http.Request, dec *routing.Decision) {
	rule := dec.Match.Rule
	ctx := r.Context()
	var body0 *trackedBody
	if r.Body != nil && r.Body != http.NoBody {
		body0 = &trackedBody{ReadCloser: r.Body}
		r.Body = body0
	}
	if rule.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rule.RequestTimeout)
		defer cancel()
	}
	out, err := p.outbound(ctx, r, dec)
	if err != nil {
		plainError(w, http.StatusBadRequest, "bad request target\n")
		return
	}
	body, replayable, err := p.bufferBody(r, rule.Retry != nil || len(rule.Mirrors) > 0)
	if err != nil {
		plainError(w, http.StatusBadRequest, "malformed request body\n")
		return
	}
	p.mirror(out, rule, body, replayable)

	attempts := 1
	if rule.Retry != nil && replayable {
		attempts += rule.Retry.Attempts
	}
	isUpgrade := out.Header.Get("Upgrade") != ""
	var last netip.AddrPort
	for try := 1; ; try++ {
		ep, release := p.lb.pick(dec.Backend.Backend.Endpoints, last)
		last = ep.Addr
		actx, acancel := ctx, context.CancelFunc(func() {})
		if rule.BackendTimeout > 0 {
			actx, acancel = context.WithTimeout(ctx, rule.BackendTimeout)
		}
		// Shallow copy: the transport only reads the request, and attempts run one at a time.
		req := out.WithContext(context.WithValue(actx, endpointKey{}, ep))
		tr := p.up.pick(ep, upstreamH2C(dec.Backend.Backend, r), isUpgrade)
		if _, inline := tr.(*inlineH1Client); !inline || req.Host == "" {
			// net/http's transports pool by URL.Host; the inline client
			// takes the endpoint from the context and needs the URL only
			// for a request without Host.
			u := *out.URL
			u.Host = ep.Addr.String()
			req.URL = &u
		}
		if replayable {
			setBody(req, body)
		}
		resp, err := tr.RoundTrip(req)
		retryable := try < attempts && ctx.Err() == nil
		if err == nil && retryable && rule.Retry.Codes[resp.StatusCode] {
			resp.Body.Close()
			err = errRetryStatus
		}
		if err != nil {
			acancel()
			release()
			if retryable && (err == errRetryStatus || isConnError(err) || actx.Err() != nil) {
				if !ctxtime.Sleep(ctx, rule.Retry.Backoff) {
					timeoutError(w)
					return
				}
				continue
			}
			switch {
			case body0 != nil && body0.err != nil:
				// The client's body was malformed (a bad chunk) or cut short:
				// that is the client's fault, not the upstream's. The framing of
				// whatever follows is unknown: close (RFC 9112 §6.3).
				w.Header().Set("Connection", "close")
				plainError(w, http.StatusBadRequest, "malformed request body\n")
			case errors.Is(r.Context().Err(), context.Canceled):
				// The client went away; nobody to answer. 499 as nginx logs it.
				w.code, w.wrote = statusClientClosed, true
			case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
				timeoutError(w)
			default:
				plainError(w, http.StatusBadGateway, "upstream connect error\n")
			}
			return
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			p.switchProtocols(w, resp, dec, resp.Header.Get("Upgrade"))
		} else {
			p.copyResponse(w, resp, dec)
		}
		resp.Body.Close()
		acancel()
		release()
		return
	}
}

var errRetryStatus = errors.New("retriable status")

// trackedBody remembers a failed read of the client's request body.
type trackedBody struct {
	io.ReadCloser
	err error
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// statusClientClosed is recorded (never sent) when the client disconnects first.
const statusClientClosed = 499

// outbound builds the upstream request (without endpoint or body).
func (p *Proxy) outbound(ctx context.Context, r *http.Request, dec *routing.Decision) (*http.Request, error) {
	u, err := url.ParseRequestURI(dec.Path)
	if err != nil {
		return nil, err
	}
	u.Scheme = "http"
	// A shallow copy with its own header map is enough: the URL is new, and
	// nothing else of r is modified. (r.Clone would also copy r.URL, only to
	// throw it away.) Each attempt sets its own context.
	out := r.WithContext(ctx)
	out.URL = u
	out.Header = r.Header.Clone()
	out.Trailer = r.Trailer.Clone()
	out.RequestURI = ""
	out.Host = dec.Host
	if out.Header == nil {
		out.Header = http.Header{}
	}
	upgrade := ""
	if r.ProtoMajor == 1 {
		upgrade = upgradeType(r.Header)
	}
	removeHopByHop(out.Header)
	if upgrade != "" {
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", upgrade)
	}
	if te := r.Header.Values("Te"); len(te) > 0 && strings.Contains(strings.Join(te, ","), "trailers") {
		out.Header.Set("Te", "trailers") // gRPC needs it end to end
	}
	if src, ok := r.Context().Value(srcKey{}).(netip.AddrPort); ok {
		appendForwardedFor(out.Header, src.Addr().String())
	}
	dec.ApplyRequestHeaders(out.Header, &out.Host)
	out.Close = false
	return out, nil
}

// appendForwardedFor adds the client to X-Forwarded-For, as proxies do.
func appendForwardedFor(h http.Header, ip string) {
	if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	h.Set("X-Forwarded-For", ip)
}

// bufferBody reads up to MaxReplayBody of the body when it may be sent more
// than once. A bigger body is stitched back together and sent once.
func (p *Proxy) bufferBody(r *http.Request, want bool) ([]byte, bool, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true, nil
	}
	if !want || r.ContentLength > p.cfg.MaxReplayBody {
		return nil, false, nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, p.cfg.MaxReplayBody+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(buf)) > p.cfg.MaxReplayBody {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf), r.Body))
		return nil, false, nil
	}
	return buf, true, nil
}

// setBody attaches a buffered body that can be sent again.
func setBody(req *http.Request, body []byte) {
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// mirror fires copies at mirror backends and forgets them; a bounded
// number run at once, the rest are dropped.
func (p *Proxy) mirror(out *http.Request, rule *routing.Rule, body []byte, replayable bool) {
	for i := range rule.Mirrors {
		m := &rule.Mirrors[i]
		if len(m.Backend.Endpoints) == 0 || !replayable || rand.Int32N(m.Denominator) >= m.Numerator {
			continue
		}
		select {
		case p.mirrors <- struct{}{}:
		default:
			continue
		}
		ep, release := p.lb.pick(m.Backend.Endpoints, netip.AddrPort{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req := out.Clone(context.WithValue(ctx, endpointKey{}, ep))
		req.URL.Host = ep.Addr.String()
		setBody(req, body)
		tr := p.up.pick(ep, upstreamH2C(m.Backend, out), false)
		go func() {
			defer func() { cancel(); release(); <-p.mirrors }()
			if resp, err := tr.RoundTrip(req); err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
			}
		}()
	}
}

// copyResponse streams the upstream response to the client, trailers included.
func (p *Proxy) copyResponse(w *statusWriter, resp *http.Response, dec *routing.Decision) {
	h := w.Header()
	removeHopByHop(resp.Header)
	for k, v := range resp.Header {
		h[k] = v
	}
	dec.ApplyResponseHeaders(h)
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	if p.draining.Load() && w.protoMajor() == 1 {
		h.Set("Connection", "close")
	}
	w.WriteHeader(resp.StatusCode)
	flush := resp.ContentLength == -1 // streamed (SSE, gRPC): do not hold bytes back
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flush {
				w.Flush()
			}
		}
		if err != nil {
			break
		}
	}
	for k, v := range resp.Trailer {
		h[http.TrailerPrefix+k] = v
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Hop-by-hop header fields are for one connection only (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

func isConnError(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "connection reset")
}

// upstreamH2C: HTTP/2 upstream when the port declares it, or when it
// declares no version and the client spoke HTTP/2 (gRPC needs it end to end).
func upstreamH2C(b *routing.Backend, r *http.Request) bool {
	return b.H2C || (b.FollowClient && r.ProtoMajor == 2)
}

func plainError(w http.ResponseWriter, status int, body string) {
	if sw, ok := w.(*statusWriter); ok && sw.grpc {
		grpcError(sw, status, body)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func timeoutError(w *statusWriter) {
	if w.wrote {
		return // headers are out; the client sees the stream end
	}
	plainError(w, http.StatusGatewayTimeout, "upstream request timeout\n")
}
