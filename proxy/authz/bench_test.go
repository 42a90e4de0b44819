package authz_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

// manyRules is an ALLOW policy of n rules that the test request misses
// until the last one (the worst case: every rule is evaluated), plus a DENY
// policy the request never matches. Rules use every kind of field.
func manyRules(t testing.TB, n int) []*meshv1alpha1.AuthorizationPolicy {
	spec := "{rules: ["
	for i := range n - 1 {
		spec += fmt.Sprintf(`{from: [{source: {principals: ['cluster.local/ns/team-%d/*'], notIpBlocks: [10.200.0.0/16]}}],
		  to: [{operation: {methods: [GET, POST], paths: ['/api/v%d/*'], hosts: ['*.app', 'web.app:*'], ports: ['80']}}],
		  when: [{key: 'request.headers[x-tenant]', values: ['t%d']}]},`, i, i, i)
	}
	spec += `{from: [{source: {principals: ['cluster.local/ns/app/sa/client']}}], to: [{operation: {methods: [GET], paths: ['/api/*']}}]}]}`
	return []*meshv1alpha1.AuthorizationPolicy{
		policy(t, "allow", spec),
		policy(t, "deny", "{action: DENY, rules: [{from: [{source: {namespaces: [untrusted]}}], to: [{operation: {paths: ['/admin/*']}}]}]}"),
	}
}

func benchRequest() *authz.L7Request {
	r := &authz.L7Request{Host: "web.app", Method: "GET", Path: "/api/users/7", Header: http.Header{"X-Tenant": {"t-none"}, "Accept": {"*/*"}}}
	r.Source = authz.Peer{Identity: identity.MustParse(client), IP: netip.MustParseAddr("10.1.0.5")}
	r.Destination = netip.MustParseAddrPort("10.96.0.10:80")
	return r
}

// TestEvaluationDoesNotAllocate: the waypoint evaluates every request, so
// evaluation must not allocate, whatever the number of rules (paths that
// need no normalisation, the common case).
func TestEvaluationDoesNotAllocate(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		ev := authz.Compile(manyRules(t, n), authz.Options{}).ForWorkload(authz.Workload{Namespace: "app"})
		r := benchRequest()
		if d := ev.L7(r); !d.Allowed || d.Rule != n-1 {
			t.Fatalf("%d rules: %+v, want allowed by the last rule", n, d)
		}
		if a := testing.AllocsPerRun(200, func() { ev.L7(r) }); a != 0 {
			t.Errorf("%d rules: L7 allocates %.1f times per request", n, a)
		}
		if a := testing.AllocsPerRun(200, func() { ev.L4(&r.L4Request) }); a != 0 {
			t.Errorf("%d rules: L4 allocates %.1f times per connection", n, a)
		}
	}
}

func BenchmarkEvaluateL7(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			ev := authz.Compile(manyRules(b, n), authz.Options{}).ForWorkload(authz.Workload{Namespace: "app"})
			r := benchRequest()
			b.ReportAllocs()
			for b.Loop() {
				if !ev.L7(r).Allowed {
					b.Fatal("denied")
				}
			}
		})
	}
}

func BenchmarkEvaluateL4(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			ev := authz.Compile(manyRules(b, n), authz.Options{}).ForWorkload(authz.Workload{Namespace: "app"})
			r := benchRequest()
			b.ReportAllocs()
			for b.Loop() {
				ev.L4(&r.L4Request)
			}
		})
	}
}
