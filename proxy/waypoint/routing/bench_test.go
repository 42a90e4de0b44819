package routing

import (
	"net/http/httptest"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// benchDestination is a table with ten producer rules (path, method and
// header matches), the last one weighted across two backends.
func benchDestination(b *testing.B) *Destination {
	in := baseInput()
	var rules []gwv1.HTTPRouteRule
	for _, p := range []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i"} {
		rules = append(rules, rule(matches(match(prefix(p), method("GET"), header("X-Tenant", "blue"))), be("v1", 1)))
	}
	rules = append(rules, rule(matches(match(prefix("/api"))), be("v1", 70), be("v2", 30)))
	in.HTTPRoutes = []*gwv1.HTTPRoute{route("r", 0, rules...)}
	return Compile(in).Lookup(webVIP)
}

// BenchmarkDecide routes one *http.Request (the net/http path). It uses
// only Compile, Lookup and Decide, so the same file measures an older tree
// as the baseline (docs/performance.md).
func BenchmarkDecide(b *testing.B) {
	d := benchDestination(b)
	r := httptest.NewRequest("GET", "http://web/api/items?q=1", nil)
	r.Header.Set("X-Tenant", "blue")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if dec := d.Decide(r, uint64(i)); dec.Backend == nil {
			b.Fatal("not routed")
		}
	}
}

// BenchmarkDecideRequest routes a request view, as the fast HTTP/1.1 path
// does (header lookups through a function, no header map).
func BenchmarkDecideRequest(b *testing.B) {
	d := benchDestination(b)
	v := Request{Method: "GET", Host: "web", EscapedPath: "/api/items", RawQuery: "q=1",
		Header: func(name string) (string, bool) {
			if name == "X-Tenant" {
				return "blue", true
			}
			return "", false
		}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if dec := d.DecideRequest(&v, uint64(i)); dec.Backend == nil {
			b.Fatal("not routed")
		}
	}
}
