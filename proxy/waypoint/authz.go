package waypoint

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// Authorization hooks: each destination of the routing table carries the
// evaluator of the AuthorizationPolicies that apply to it (routing.Compile
// builds it). HTTP requests are checked before routing; L4 streams when they
// open. Tables swap atomically, so a policy change applies to the next
// request or stream and never touches established connections.

// deniedBody is what a denied request gets, as from Istio's proxies.
const deniedBody = "RBAC: access denied\n"

type peerKey struct{}

// authorizedKey marks a stream whose CONNECT was already authorized.
type authorizedKey struct{}

// WithPeer records the verified identity of the tunnel's peer (the HBONE
// client), the source identity authorization policies match.
func WithPeer(ctx context.Context, id identity.ID) context.Context {
	return context.WithValue(ctx, peerKey{}, id)
}

func peerFrom(ctx context.Context) identity.ID {
	id, _ := ctx.Value(peerKey{}).(identity.ID)
	return id
}

// authorizeRequest evaluates d's policies for r. When it denies, it has
// answered 403 and returns false.
func (p *Proxy) authorizeRequest(w http.ResponseWriter, r *http.Request, d *routing.Destination, dst netip.AddrPort) bool {
	req := authz.L7Request{Host: r.Host, Method: r.Method, Path: r.URL.EscapedPath(), Header: r.Header}
	ctx := r.Context()
	req.Source.Identity = peerFrom(ctx)
	if src, ok := ctx.Value(srcKey{}).(netip.AddrPort); ok {
		req.Source.IP = src.Addr()
	}
	req.Destination = dst
	dec := d.Authz.L7(&req)
	p.authzStats.count(layerHTTP, &dec)
	if dec.Audit != nil {
		p.cfg.Log.Info("request audited", "policy", dec.Audit.Key, "rule", dec.AuditRule, "allowed", dec.Allowed,
			"source", idString(req.Source.Identity), "sourceIP", addrString(req.Source.IP), "destination", destLabel(d),
			"method", r.Method, "host", r.Host, "path", r.URL.Path)
	}
	if dec.Allowed {
		return true
	}
	if p.denyLogs.allow(time.Now()) {
		p.cfg.Log.Info("request denied by authorization policy", "policy", policyKey(dec.Policy), "rule", dec.Rule,
			"reason", dec.Reason.String(), "source", idString(req.Source.Identity), "sourceIP", addrString(req.Source.IP),
			"destination", destLabel(d), "method", r.Method, "host", r.Host, "path", r.URL.Path,
			"suppressedBefore", p.denyLogs.takeSuppressed())
	}
	plainError(w, http.StatusForbidden, deniedBody)
	return false
}

// authorize evaluates d's policies for a request of the fast HTTP/1.1 path
// (same decision, metrics and logs as authorizeRequest; the caller answers
// 403 when it returns false).
func (c *h1conn) authorize(ctx context.Context, d *routing.Destination, v *routing.Request) bool {
	h := make(http.Header, len(c.req.Fields))
	for i := range c.req.Fields {
		f := &c.req.Fields[i]
		h.Add(string(f.Name), string(f.Value))
	}
	r := &http.Request{Method: v.Method, Host: v.Host, Header: h, URL: &url.URL{RawPath: v.EscapedPath}}
	if p, err := url.PathUnescape(v.EscapedPath); err == nil {
		r.URL.Path = p
	}
	r = r.WithContext(ctx)
	var denied deniedRecorder
	return c.p.authorizeRequest(&denied, r, d, c.sc.dst)
}

// deniedRecorder swallows authorizeRequest's 403: the fast path writes its own.
type deniedRecorder struct{ h http.Header }

func (d *deniedRecorder) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *deniedRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (d *deniedRecorder) WriteHeader(int)             {}

// authorizeStream evaluates d's policies for an L4 stream from peer at src.
func (p *Proxy) authorizeStream(peer identity.ID, src netip.AddrPort, d *routing.Destination, dst netip.AddrPort) bool {
	if d.Authz == nil {
		return true
	}
	req := authz.L4Request{Source: authz.Peer{Identity: peer, IP: src.Addr()}, Destination: dst}
	dec := d.Authz.L4(&req)
	p.authzStats.count(layerTCP, &dec)
	if dec.Audit != nil {
		p.cfg.Log.Info("stream audited", "policy", dec.Audit.Key, "rule", dec.AuditRule, "allowed", dec.Allowed,
			"source", idString(peer), "sourceIP", addrString(src.Addr()), "destination", destLabel(d))
	}
	if !dec.Allowed && p.denyLogs.allow(time.Now()) {
		p.cfg.Log.Info("stream denied by authorization policy", "policy", policyKey(dec.Policy), "rule", dec.Rule,
			"reason", dec.Reason.String(), "source", idString(peer), "sourceIP", addrString(src.Addr()), "destination", destLabel(d),
			"suppressedBefore", p.denyLogs.takeSuppressed())
	}
	return dec.Allowed
}

// admitTunnel decides a CONNECT to a destination whose port is declared
// non-HTTP: such a stream is never parsed, so its policies apply now and a
// denial is an HBONE 403 before any byte flows. HTTP destinations are
// decided per request.
func (p *Proxy) admitTunnel(ctx context.Context, req *hbone.ConnectRequest) (context.Context, bool) {
	d := p.table.Load().Lookup(req.Target)
	if d == nil || d.Protocol != routing.ProtocolTCP || d.Authz == nil {
		return ctx, true
	}
	if !p.authorizeStream(req.PeerIdentity, req.Source(), d, req.Target) {
		return ctx, false
	}
	return context.WithValue(ctx, authorizedKey{}, true), true
}

// admitStream decides an L4 stream that admitTunnel did not (sniffed as
// non-HTTP, or from the plaintext listener).
func (p *Proxy) admitStream(ctx context.Context, sc *streamConn, d *routing.Destination) bool {
	if done, _ := ctx.Value(authorizedKey{}).(bool); done {
		return true
	}
	return p.authorizeStream(sc.peer, sc.src, d, sc.dst)
}

// reauthorizeStreams closes the L4 streams a new table denies, as ztunnels
// do: an established connection lives on only while policy allows it.
// Allowed streams are not touched. HTTP needs nothing: every request is
// decided on the table current when it arrives.
func (p *Proxy) reauthorizeStreams(t *routing.Table) {
	var denied []*streamConn
	p.l4mu.Lock()
	for c := range p.l4conns {
		sc, ok := c.(*streamConn)
		if !ok {
			continue
		}
		d := t.Lookup(sc.dst)
		if d == nil || d.Authz == nil {
			continue
		}
		req := authz.L4Request{Source: authz.Peer{Identity: sc.peer, IP: sc.src.Addr()}, Destination: sc.dst}
		if dec := d.Authz.L4(&req); !dec.Allowed {
			p.authzStats.count(layerTCP, &dec)
			p.cfg.Log.Info("closing stream no longer allowed by authorization policy", "policy", policyKey(dec.Policy), "rule", dec.Rule,
				"reason", dec.Reason.String(), "source", idString(sc.peer), "sourceIP", addrString(sc.src.Addr()), "destination", destLabel(d))
			denied = append(denied, sc)
		}
	}
	p.l4mu.Unlock()
	for _, sc := range denied {
		sc.Close()
	}
}

func destLabel(d *routing.Destination) string {
	return d.Service.String() + ":" + strconv.Itoa(int(d.Port))
}

func idString(id identity.ID) string {
	if id.IsZero() {
		return "none (plaintext)"
	}
	return id.String()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}

func policyKey(pol *authz.Policy) string {
	if pol == nil {
		return ""
	}
	return pol.Key
}

const (
	layerHTTP = iota
	layerTCP
	numLayers
)

var layerNames = [numLayers]string{"http", "tcp"}

// authzMetrics counts decisions by layer, policy and reason. The counters
// of each policy are resolved when a table is installed, so counting is a
// map read and an atomic add.
type authzMetrics struct {
	vec      *prometheus.CounterVec
	byPolicy atomic.Pointer[map[string]*policyCounters]
}

type policyCounters [numLayers][]prometheus.Counter // indexed by authz.Reason

func newAuthzMetrics(reg prometheus.Registerer) *authzMetrics {
	m := &authzMetrics{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wayfabric_waypoint_authz_decisions_total",
		Help: "Authorization decisions on requests (layer http) and streams (layer tcp), by deciding policy (\"\" when none decided) and reason.",
	}, []string{"layer", "decision", "policy", "reason"})}
	reg.MustRegister(m.vec)
	m.byPolicy.Store(&map[string]*policyCounters{})
	return m
}

// update resolves the counters of set's policies and drops the series of
// policies that are gone.
func (m *authzMetrics) update(set *authz.Set) {
	old := *m.byPolicy.Load()
	next := make(map[string]*policyCounters, len(set.Policies())+1)
	for _, key := range append([]string{""}, policyKeys(set)...) {
		if c, ok := old[key]; ok {
			next[key] = c
			continue
		}
		c := &policyCounters{}
		for l := range c {
			c[l] = make([]prometheus.Counter, len(authz.Reasons()))
			for _, r := range authz.Reasons() {
				decision := "denied"
				if r.Allowed() {
					decision = "allowed"
				}
				c[l][r] = m.vec.WithLabelValues(layerNames[l], decision, key, r.String())
			}
		}
		next[key] = c
	}
	for key := range old {
		if _, ok := next[key]; !ok {
			m.vec.DeletePartialMatch(prometheus.Labels{"policy": key})
		}
	}
	m.byPolicy.Store(&next)
}

func policyKeys(set *authz.Set) []string {
	var keys []string
	for _, p := range set.Policies() {
		keys = append(keys, p.Key)
	}
	return keys
}

func (m *authzMetrics) count(layer int, d *authz.Decision) {
	c := (*m.byPolicy.Load())[policyKey(d.Policy)]
	if c == nil {
		// The decision came from a table installed after this map was read.
		return
	}
	c[layer][d.Reason].Inc()
}

// logLimiter lets through at most burst denial log lines, refilled at rate
// per second, so a client hammering a denied path cannot flood the log;
// suppressed lines are counted and reported on the next one.
type logLimiter struct {
	rate, burst float64
	state       atomic.Pointer[limiterState]
	suppressed  atomic.Int64
}

type limiterState struct {
	tokens float64
	at     time.Time
}

func newLogLimiter(rate, burst float64) *logLimiter {
	l := &logLimiter{rate: rate, burst: burst}
	l.state.Store(&limiterState{tokens: burst})
	return l
}

func (l *logLimiter) allow(now time.Time) bool {
	for {
		old := l.state.Load()
		tokens := old.tokens
		if !old.at.IsZero() {
			tokens = min(l.burst, tokens+now.Sub(old.at).Seconds()*l.rate)
		}
		if tokens < 1 {
			l.suppressed.Add(1)
			return false
		}
		if l.state.CompareAndSwap(old, &limiterState{tokens: tokens - 1, at: now}) {
			return true
		}
	}
}

func (l *logLimiter) takeSuppressed() int64 { return l.suppressed.Swap(0) }
