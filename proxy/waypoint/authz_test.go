package waypoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz/authztest"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

var otherID = identity.MustParse("spiffe://cluster.local/ns/other/sa/intruder")

// authzPolicy is a policy of namespace app, where the test Services are.
func authzPolicy(t testing.TB, name, spec string) *meshv1alpha1.AuthorizationPolicy {
	return authztest.Policy(t, "app", name, spec)
}

// logLines captures the proxy's log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, args)
	}, funcr.Options{})
}

func (l *logLines) find(sub ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		for _, s := range sub {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return line
	}
	return ""
}

// meshClients are HBONE clients of two identities, both tunnelling to one
// destination through the waypoint at addr, as their ztunnels would.
type meshClients struct {
	ca       *identitytest.CA
	waypoint netip.AddrPort
}

// tunnel opens a CONNECT to target as id, from the given original address.
func (m *meshClients) tunnel(t *testing.T, id identity.ID, from string) func(ctx context.Context, target netip.AddrPort) (net.Conn, error) {
	c := hboneClient(t, m.ca, id)
	return func(ctx context.Context, target netip.AddrPort) (net.Conn, error) {
		return c.Dial(ctx, hbone.DialRequest{Target: target, Proxy: m.waypoint, SourceIdentity: id, PeerIdentity: waypointID,
			Forwarded: netip.MustParseAddrPort(from)})
	}
}

// httpAs is an HTTP/1.1 client whose connections are HBONE tunnels of id.
func (m *meshClients) httpAs(t *testing.T, id identity.ID, from string, target netip.AddrPort, dials *atomic.Int64) *http.Client {
	tunnel := m.tunnel(t, id, from)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if dials != nil {
				dials.Add(1)
			}
			return tunnel(ctx, target)
		},
	}}
}

func authzWaypoint(t *testing.T, w *world, log logr.Logger) (*Proxy, *meshClients) {
	t.Helper()
	ca := identitytest.NewCA("authz")
	p := newProxy(t, w, Config{Log: log})
	_, addr := hboneServer(t, ca, waypointID, p.HBONEHandler())
	return p, &meshClients{ca: ca, waypoint: addr}
}

// TestAuthorizationAtL7 runs real HBONE clients of two identities through the
// waypoint: one allowed, one denied, with ALLOW and DENY rules on methods and
// paths, and checks the 403, the metrics and the denial log.
func TestAuthorizationAtL7(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(t, "clients", `{targetRefs: [{kind: Service, name: web}], rules: [
			{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}], to: [{operation: {methods: [GET], paths: ['/api/*']}}]}]}`),
		authzPolicy(t, "no-admin", `{targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp}], action: DENY, rules: [
			{to: [{operation: {paths: ['/api/admin*']}}]}]}`),
	}
	var logs logLines
	p, mesh := authzWaypoint(t, w, logs.logger())
	client := mesh.httpAs(t, sourceID, "10.1.0.5:40000", web, nil)
	intruder := mesh.httpAs(t, otherID, "10.9.0.9:40000", web, nil)

	cases := []struct {
		name   string
		c      *http.Client
		method string
		path   string
		want   int
	}{
		{"allowed identity, method and path", client, "GET", "/api/users", 200},
		{"allowed identity, dot segments resolved before matching", client, "GET", "/api/x/../users", 200},
		{"allowed identity, other method", client, "POST", "/api/users", 403},
		{"allowed identity, other path", client, "GET", "/private", 403},
		{"allowed identity, denied path", client, "GET", "/api/admin/keys", 403},
		{"allowed identity, denied path hidden by encoding", client, "GET", "/api/%61dmin/keys", 403},
		{"other identity", intruder, "GET", "/api/users", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.c, tc.method, "http://web.app"+tc.path, nil, "")
			if r.status != tc.want {
				t.Fatalf("status %d (%q), want %d", r.status, r.body, tc.want)
			}
			if tc.want == 403 && r.body != deniedBody {
				t.Errorf("403 body %q, want %q", r.body, deniedBody)
			}
			if tc.want == 200 && r.echo.Backend != "web" {
				t.Errorf("answered by %+v", r.echo)
			}
		})
	}
	if n := be.requests.Load(); n != 2 {
		t.Errorf("backend saw %d requests, want only the 2 allowed ones", n)
	}

	vec := p.authzStats.vec
	for _, m := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"http", "allowed", "app/clients", "allow_rule"}, 2},
		{[]string{"http", "denied", "", "no_allow_match"}, 3},
		{[]string{"http", "denied", "app/no-admin", "deny_rule"}, 2},
	} {
		if got := testutil.ToFloat64(vec.WithLabelValues(m.labels...)); got != m.want {
			t.Errorf("wayfabric_waypoint_authz_decisions_total%v = %v, want %v", m.labels, got, m.want)
		}
	}
	line := logs.find("request denied", `"policy"="app/no-admin"`)
	// The tunnel's peer is a workload, so its Forwarded claim (10.1.0.5) is
	// not believed: the source address is the tunnel's own (loopback here).
	for _, want := range []string{`"rule"=0`, `"source"="` + sourceID.String() + `"`, `"sourceIP"="127.0.0.1"`, `"destination"="app/web:80"`, `"reason"="deny_rule"`, `"path"="/api/admin/keys"`} {
		if !strings.Contains(line, want) {
			t.Errorf("denial log %q lacks %s", line, want)
		}
	}
	if logs.find("request denied", `"source"="`+otherID.String()+`"`, `"reason"="no_allow_match"`) == "" {
		t.Errorf("no denial log names the intruder")
	}
}

// TestAuthorizationAtL4 covers streams the waypoint never parses: a port
// declared as TCP is decided at CONNECT (HBONE 403 for the denied identity),
// a sniffed one as soon as it is known not to be HTTP.
func TestAuthorizationAtL4(t *testing.T) {
	w := newWorld()
	declared := w.service("app", "db", "tcp-db", tcpEcho(t, ""))
	sniffed := w.service("app", "cache", "cache", tcpEcho(t, ""))
	w.in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(t, "db-clients", `{targetRefs: [{kind: Service, name: db}, {kind: Service, name: cache}], rules: [
			{from: [{source: {namespaces: [app]}}], to: [{operation: {ports: ['80']}}]}]}`),
	}
	p, mesh := authzWaypoint(t, w, logr.Discard())
	client, intruder := mesh.tunnel(t, sourceID, "10.1.0.5:1"), mesh.tunnel(t, otherID, "10.9.0.9:1")
	ctx := context.Background()

	for name, dst := range map[string]netip.AddrPort{"declared": declared, "sniffed": sniffed} {
		t.Run(name+" port, allowed identity", func(t *testing.T) {
			conn, err := client(ctx, dst)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, "\x00ping"); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 5)
			if _, err := io.ReadFull(conn, got); err != nil || string(got) != "\x00ping" {
				t.Fatalf("echo %q, %v", got, err)
			}
		})
	}
	t.Run("declared port, other identity: refused at CONNECT", func(t *testing.T) {
		_, err := intruder(ctx, declared)
		var ce *hbone.ConnectError
		if !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
			t.Fatalf("err = %v, want CONNECT 403", err)
		}
	})
	t.Run("sniffed port, other identity: closed before any byte reaches the server", func(t *testing.T) {
		conn, err := intruder(ctx, sniffed)
		if err != nil {
			t.Fatal(err) // the tunnel opens: the stream's protocol is not known yet
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "\x00ping")
		if n, err := conn.Read(make([]byte, 5)); err == nil {
			t.Fatalf("read %d bytes from a denied stream", n)
		}
	})
	vec := p.authzStats.vec
	t.Run("a policy update closes established streams it denies, and only those", func(t *testing.T) {
		echoes := func(conn net.Conn) error {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, "\x00ping"); err != nil {
				return err
			}
			got := make([]byte, 5)
			if _, err := io.ReadFull(conn, got); err != nil {
				return err
			}
			if string(got) != "\x00ping" {
				return fmt.Errorf("echo %q", got)
			}
			return nil
		}
		stays, err := client(ctx, declared)
		if err != nil {
			t.Fatal(err)
		}
		defer stays.Close()
		goes, err := mesh.tunnel(t, identity.MustParse("spiffe://cluster.local/ns/app/sa/batch"), "10.1.0.6:1")(ctx, declared)
		if err != nil {
			t.Fatal(err)
		}
		defer goes.Close()
		for _, c := range []net.Conn{stays, goes} {
			if err := echoes(c); err != nil {
				t.Fatalf("before the update: %v", err)
			}
		}
		in := w.in
		in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
			authzPolicy(t, "db-clients", `{targetRefs: [{kind: Service, name: db}], rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}]}]}`),
		}
		p.SetTable(routing.Compile(in))
		if err := echoes(goes); err == nil {
			t.Errorf("the stream of app/sa/batch still works after the policy stopped allowing it")
		}
		if err := echoes(stays); err != nil {
			t.Errorf("the allowed stream broke across the update: %v", err)
		}
		p.SetTable(routing.Compile(w.in))
	})
	if got := testutil.ToFloat64(vec.WithLabelValues("tcp", "denied", "", "no_allow_match")); got != 3 {
		t.Errorf("denied tcp decisions = %v, want 3 (two at open, one closed by the update)", got)
	}
	if got := testutil.ToFloat64(vec.WithLabelValues("tcp", "allowed", "app/db-clients", "allow_rule")); got != 4 {
		t.Errorf("allowed tcp decisions = %v, want 4", got)
	}
}

// TestAuthorizationFailsClosed: a policy that does not compile (here one that
// bypassed API validation) denies everything to what it selects, with the
// reason in metrics, while other destinations keep working.
func TestAuthorizationFailsClosed(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	api := w.service("app", "api", "http", be.addr)
	w.in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(t, "allow-all", `{targetRefs: [{kind: Service, name: web}], rules: [{}]}`),
		authzPolicy(t, "broken", `{targetRefs: [{kind: Service, name: web}], rules: [{from: [{source: {ipBlocks: [10.0.0.0/40]}}]}]}`),
	}
	p, mesh := authzWaypoint(t, w, logr.Discard())
	if r := do(t, mesh.httpAs(t, sourceID, "10.1.0.5:1", web, nil), "GET", "http://web/", nil, ""); r.status != 403 {
		t.Errorf("web: %d, want 403 from the broken policy", r.status)
	}
	if r := do(t, mesh.httpAs(t, sourceID, "10.1.0.5:1", api, nil), "GET", "http://api/", nil, ""); r.status != 200 {
		t.Errorf("api (no policy): %d, want 200", r.status)
	}
	if got := testutil.ToFloat64(p.authzStats.vec.WithLabelValues("http", "denied", "app/broken", "invalid_policy")); got != 1 {
		t.Errorf("invalid_policy decisions = %v, want 1", got)
	}
}

// TestAuthorizationUpdateKeepsConnections: a new table applies to the next
// request on connections that are already open; allowed clients keep their
// connection and lose no request; policies removed stop counting.
func TestAuthorizationUpdateKeepsConnections(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	p, mesh := authzWaypoint(t, w, logr.Discard())
	var clientDials, intruderDials atomic.Int64
	client := mesh.httpAs(t, sourceID, "10.1.0.5:1", web, &clientDials)
	intruder := mesh.httpAs(t, otherID, "10.9.0.9:1", web, &intruderDials)

	stop := make(chan struct{})
	var failures, served atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // an allowed client under load throughout
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get("http://web/")
			if err != nil {
				failures.Add(1)
				continue
			}
			_, _ = drainBody(resp)
			if resp.StatusCode != 200 {
				failures.Add(1)
			}
			served.Add(1)
		}
	}()
	if r := do(t, intruder, "GET", "http://web/", nil, ""); r.status != 200 {
		t.Fatalf("before any policy: %d", r.status)
	}

	in := w.in
	in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(t, "only-app", `{targetRefs: [{kind: Service, name: web}], rules: [{from: [{source: {namespaces: [app]}}]}]}`),
	}
	before := served.Load()
	p.SetTable(routing.Compile(in))
	if r := do(t, intruder, "GET", "http://web/", nil, ""); r.status != 403 {
		t.Errorf("first request after the update on the open connection: %d, want 403", r.status)
	}
	waitFor(t, "allowed requests after the update", func() bool { return served.Load() > before+50 })

	p.SetTable(routing.Compile(w.in)) // policy deleted
	if r := do(t, intruder, "GET", "http://web/", nil, ""); r.status != 200 {
		t.Errorf("after the policy is gone: %d, want 200", r.status)
	}
	close(stop)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d allowed requests failed across two policy updates", n, served.Load())
	}
	if clientDials.Load() != 1 || intruderDials.Load() != 1 {
		t.Errorf("tunnels dialled: client %d, intruder %d; want 1 each (updates keep connections)", clientDials.Load(), intruderDials.Load())
	}
	if got := testutil.CollectAndCount(p.authzStats.vec); got != 2*6 {
		t.Errorf("%d series after the policy was deleted, want only the 12 of decisions without a policy", got)
	}
}

// TestAuthorizationAudit: AUDIT logs matching requests and changes nothing.
func TestAuthorizationAudit(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(t, "audit-writes", `{targetRefs: [{kind: Service, name: web}], action: AUDIT, rules: [{to: [{operation: {methods: [POST]}}]}]}`),
	}
	var logs logLines
	_, mesh := authzWaypoint(t, w, logs.logger())
	c := mesh.httpAs(t, sourceID, "10.1.0.5:1", web, nil)
	if r := do(t, c, "POST", "http://web/orders", nil, "x"); r.status != 200 {
		t.Fatalf("audited request: %d", r.status)
	}
	if r := do(t, c, "GET", "http://web/orders", nil, ""); r.status != 200 {
		t.Fatalf("other request: %d", r.status)
	}
	if logs.find("request audited", `"policy"="app/audit-writes"`, `"method"="POST"`, `"allowed"=true`) == "" {
		t.Errorf("no audit line for the POST")
	}
	if logs.find("request audited", `"method"="GET"`) != "" {
		t.Errorf("the GET matched no AUDIT rule but was audited")
	}
}

func TestDenialLogIsRateLimited(t *testing.T) {
	l := newLogLimiter(10, 5)
	now := time.Now()
	allowed := 0
	for range 100 {
		if l.allow(now) {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("burst: %d lines, want 5", allowed)
	}
	if !l.allow(now.Add(150 * time.Millisecond)) {
		t.Errorf("no line 150 ms later at 10 lines/s")
	}
	if got := l.takeSuppressed(); got != 95 {
		t.Errorf("suppressed %d, want 95", got)
	}
}
