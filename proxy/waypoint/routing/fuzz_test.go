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

// FuzzCORSAndGRPC compiles a CORS filter and a GRPCRoute method match from
// fuzzed values and routes fuzzed requests with them: compilation may skip
// the rule but must not panic, and an allowed origin is always echoed.
func FuzzCORSAndGRPC(f *testing.F) {
	f.Add("https://*.bar.com", "https://a.bar.com", "GET", "foo.Bar", "Get", "/foo.Bar/Get")
	f.Add("http://x:8080", "http://x:8080", "*", "", "M", "/a/M")
	f.Add("*", "null", "PUT", "[", "(", "//")
	f.Add("https://[::1]:443", "https://[::1]", "OPTIONS", "a.b", "", "/a.b/c")
	f.Fuzz(func(t *testing.T, allowed, origin, method, svc, grpcMethod, target string) {
		in := baseInput()
		in.HTTPRoutes = []*gwv1.HTTPRoute{route("c", 0, withFilters(rule(nil, be("v1", 1)), corsF(gwv1.HTTPCORSFilter{
			AllowOrigins: []gwv1.CORSOrigin{gwv1.CORSOrigin(allowed)}, AllowMethods: []gwv1.HTTPMethodWithWildcard{gwv1.HTTPMethodWithWildcard(method)},
		})))}
		g := grpcRoute("g", 0, grule(gmatches(gmatch(gmethod(svc, grpcMethod))), gbe("v2", 1)))
		g.Spec.ParentRefs[0].Port = ptrInt32(8080) // another port: no conflict with the HTTPRoute
		in.GRPCRoutes = []*gwv1.GRPCRoute{g}
		tab := Compile(in)
		d := tab.Lookup(webVIP)
		if d == nil {
			t.Fatal("destination lost")
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := &http.Request{Method: "OPTIONS", URL: u, Host: "web", Header: http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}}}
		v := ViewOf(req)
		v.Client = "client"
		dec := d.DecideRequest(&v, 0)
		h := http.Header{}
		dec.ApplyResponseHeaders(h)
		if got := h.Get("Access-Control-Allow-Origin"); got != "" && got != origin {
			t.Fatalf("Access-Control-Allow-Origin %q, want the request's origin %q", got, origin)
		}
	})
}

func ptrInt32(v int32) *int32 { return &v }
