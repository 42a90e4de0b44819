package routing

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// FuzzCompileAndDecide compiles a route from fuzzed match, rewrite and
// header values and routes a fuzzed request with it: compilation may skip
// the rule but must not panic, and a forwarded request keeps an absolute path.
func FuzzCompileAndDecide(f *testing.F) {
	f.Add(uint8(0), "/abc", "/xyz", "x-h", "v", "/abc/def?q=1")
	f.Add(uint8(1), "/a/", "", "X", "1", "/a")
	f.Add(uint8(2), "/v[0-9]+/.*", "/new", "h", "(", "/v1/x")
	f.Add(uint8(3), "/", "/", "", "", "//..//./a/%2e%2e/")
	f.Fuzz(func(t *testing.T, kind uint8, matchValue, replace, hName, hValue, target string) {
		types := []gwv1.PathMatchType{gwv1.PathMatchExact, gwv1.PathMatchPathPrefix, gwv1.PathMatchRegularExpression, "Bogus"}
		m := match(path(types[int(kind)%len(types)], matchValue), header(hName, hValue))
		r := withFilters(rule(matches(m), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: prefixMod(replace)}))
		in := baseInput()
		in.HTTPRoutes = []*gwv1.HTTPRoute{route("r", 0, r)}
		tab := Compile(in)
		d := tab.Lookup(webVIP)
		if d == nil {
			t.Fatal("destination lost")
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := &http.Request{Method: "GET", URL: u, Host: "web", Header: http.Header{http.CanonicalHeaderKey(hName): {hValue}}}
		dec := d.Decide(req, 0)
		if dec.Status == 0 && !strings.HasPrefix(dec.Path, "/") {
			t.Fatalf("forwarded path %q is not absolute", dec.Path)
		}
	})
}
