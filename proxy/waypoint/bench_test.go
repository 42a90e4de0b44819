package waypoint

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// BenchmarkForwardHTTP1 measures the proxy path in-process (client, proxy
// and backend share the CPU, so use it for profiles and regressions, and
// test/bench/waypoint.sh for figures).
func BenchmarkForwardHTTP1(b *testing.B) {
	be := startBackend(b, "b", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	p := newProxy(b, w, Config{})
	addr, _ := listenProxy(b, p, web)
	benchGets(b, h1Client(addr), "http://web/bench")
}

// benchGets runs GET url in parallel, requiring 200, reporting allocations.
func benchGets(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// BenchmarkAuthorization measures a request through the proxy with 0, 10 and
// 100 authorization rules on its destination (the request matches only the
// last rule, so every rule is evaluated). allocs/op must not grow with the
// rules: evaluation allocates nothing. For requests/s per core, run
// test/bench/authz.sh.
func BenchmarkAuthorization(b *testing.B) {
	for _, rules := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
			be := startBackend(b, "b", false)
			w := newWorld()
			web := w.service("app", "web", "http", be.addr)
			if rules > 0 {
				w.in.AuthorizationPolicies = benchPolicies(b, rules)
			}
			p := newProxy(b, w, Config{})
			benchGets(b, h1Client(listenProxyAs(b, p, web, sourceID)), "http://web/api/orders")
		})
	}
}

// benchPolicies is an ALLOW policy of n rules on Service web, of which only
// the last matches the benchmark's request, and a DENY policy that never
// matches it.
func benchPolicies(b *testing.B, n int) []*meshv1alpha1.AuthorizationPolicy {
	spec := "{targetRefs: [{kind: Service, name: web}], rules: ["
	for i := range n - 1 {
		spec += fmt.Sprintf(`{from: [{source: {principals: ['cluster.local/ns/app/*'], notIpBlocks: [10.200.0.0/16]}}],
		  to: [{operation: {methods: [GET, POST], paths: ['/api/v%d/*'], hosts: ['*.app', 'web:*']}}],
		  when: [{key: 'request.headers[x-tenant]', values: ['t%d']}]},`, i, i)
	}
	spec += `{from: [{source: {principals: ['cluster.local/ns/app/sa/client']}}], to: [{operation: {methods: [GET], paths: ['/api/*']}}]}]}`
	return []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(b, "allow", spec),
		authzPolicy(b, "deny", `{targetRefs: [{kind: Service, name: web}], action: DENY, rules: [{from: [{source: {namespaces: [untrusted]}}]}]}`),
	}
}

// listenProxyAs serves dst through p on loopback as if every connection
// were an HBONE tunnel from id (without the TLS cost).
func listenProxyAs(b *testing.B, p *Proxy, dst netip.AddrPort, id identity.ID) string {
	l := loopback.Listen(b)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ctx := WithPeer(context.Background(), id)
			if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
				ctx = WithSource(ctx, ap)
			}
			go func() { _ = p.ServeStream(ctx, c, dst) }()
		}
	}()
	return l.Addr().String()
}
