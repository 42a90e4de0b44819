package routing

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var webVIP = netip.MustParseAddrPort("10.0.0.10:80")

type routeCase struct {
	name string
	spec string // the part of the Gateway API spec the case follows
	// setup
	routes     []*gwv1.HTTPRoute
	grpcRoutes []*gwv1.GRPCRoute
	mutate     func(*Input)
	// request
	method, target, host string
	headers              map[string][]string
	rnd                  uint64
	dst                  netip.AddrPort
	client               string // client namespace (from the peer's SPIFFE identity)
	// expectations
	noDestination bool
	status        int
	backend       string // "ns/name:port" when forwarded
	rule          string // "ns/name#index" of the matched rule
	path, outHost string
	location      string
	reason        string            // substring of the error body
	reqHeaders    map[string]string // after request modifiers; "" = absent
	respHeaders   map[string]string // after response modifiers on {X-Up: up}
	skipped       []string          // substrings, one per expected Skipped entry
	check         func(t *testing.T, d Decision)
}

func runRouteCase(t *testing.T, tc routeCase) {
	t.Helper()
	in := baseInput()
	in.HTTPRoutes = tc.routes
	in.GRPCRoutes = tc.grpcRoutes
	if tc.mutate != nil {
		tc.mutate(&in)
	}
	tab := Compile(in)
	if len(tab.Skipped) != len(tc.skipped) {
		t.Fatalf("skipped = %+v, want %d entries like %q", tab.Skipped, len(tc.skipped), tc.skipped)
	}
	for i, s := range tc.skipped {
		if !strings.Contains(tab.Skipped[i].Reason, s) {
			t.Errorf("skipped[%d] = %q, want it to contain %q", i, tab.Skipped[i].Reason, s)
		}
	}
	dst := tc.dst
	if !dst.IsValid() {
		dst = webVIP
	}
	d := tab.Lookup(dst)
	if tc.noDestination {
		if d != nil {
			t.Fatalf("destination %s present, want none", dst)
		}
		return
	}
	if d == nil {
		t.Fatalf("no destination for %s", dst)
	}
	method := tc.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, "http://web"+tc.target, nil)
	if tc.host != "" {
		r.Host = tc.host
	}
	for k, v := range tc.headers {
		r.Header[http.CanonicalHeaderKey(k)] = v
	}
	v := ViewOf(r)
	v.Client = tc.client
	dec := d.DecideRequest(&v, tc.rnd)
	if dec.Status != tc.status {
		t.Fatalf("status = %d (%q), want %d", dec.Status, dec.Reason, tc.status)
	}
	if tc.reason != "" && !strings.Contains(dec.Reason, tc.reason) {
		t.Errorf("reason = %q, want it to contain %q", dec.Reason, tc.reason)
	}
	if tc.rule != "" {
		got := ""
		if dec.Match.Rule != nil {
			got = dec.Match.Rule.RouteLabel + "#" + itoa(dec.Match.Rule.Index)
		}
		if got != tc.rule {
			t.Errorf("rule = %q, want %q", got, tc.rule)
		}
	}
	if tc.backend != "" {
		if dec.Backend == nil || dec.Backend.Backend.Label() != tc.backend {
			t.Fatalf("backend = %+v, want %s", dec.Backend, tc.backend)
		}
	}
	if tc.path != "" && dec.Path != tc.path {
		t.Errorf("upstream path = %q, want %q", dec.Path, tc.path)
	}
	if tc.location != "" && dec.Location != tc.location {
		t.Errorf("location = %q, want %q", dec.Location, tc.location)
	}
	host := dec.Host
	if tc.reqHeaders != nil {
		dec.ApplyRequestHeaders(r.Header, &host)
		for k, want := range tc.reqHeaders {
			if got := strings.Join(r.Header.Values(k), ","); got != want {
				t.Errorf("request header %s = %q, want %q", k, got, want)
			}
		}
	}
	if tc.outHost != "" && host != tc.outHost {
		t.Errorf("upstream host = %q, want %q", host, tc.outHost)
	}
	if tc.respHeaders != nil {
		h := http.Header{"X-Up": {"up"}, "Server": {"backend"}}
		dec.ApplyResponseHeaders(h)
		for k, want := range tc.respHeaders {
			if got := strings.Join(h.Values(k), ","); got != want {
				t.Errorf("response header %s = %q, want %q", k, got, want)
			}
		}
	}
	if tc.check != nil {
		tc.check(t, dec)
	}
}

func TestRouteTable(t *testing.T) {
	s2 := func(s string) *string { return &s }
	cases := []routeCase{
		// --- Attachment and defaults ---
		{name: "no routes forwards to the destination service", spec: "GEP-1426 GAMMA: without routes, mesh traffic goes to the Service",
			target: "/anything", status: 0, backend: "app/web:80", rule: "default#0", path: "/anything"},
		{name: "service opting out has no destination", spec: "api/mesh, as Istio ambient: use-waypoint=none opts out",
			dst: netip.MustParseAddrPort("10.0.0.14:80"), noDestination: true},
		{name: "service in another namespace is not served", spec: "api/mesh, as Istio ambient: use-waypoint names a waypoint of the object's own namespace",
			dst: netip.MustParseAddrPort("10.0.1.1:80"), noDestination: true},
		{name: "parentRef port mismatch does not attach", spec: "GEP-1426: ParentReference.Port selects the Service port",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := route("r", 0, rule(nil, be("v1", 1)))
				r.Spec.ParentRefs[0].Port = ptr.To[int32](8080)
				return r
			}()},
			target: "/", backend: "app/web:80", rule: "default#0"},
		{name: "route without a parentRef to us is skipped", spec: "HTTPRoute CommonRouteSpec.ParentRefs: routes attach only to referenced parents",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := route("r", 0, rule(nil, be("v1", 1)))
				r.Spec.ParentRefs = []gwv1.ParentReference{{Name: "someone-else"}}
				return r
			}()},
			skipped: []string{"no parentRef"}, target: "/", backend: "app/web:80"},
		{name: "waypoint-parented route applies when the service has none", spec: "GEP-1426, as Istio ambient: routes whose parentRef is the Waypoint apply to all it serves",
			routes: []*gwv1.HTTPRoute{waypointRoute("wr", nil, rule(nil, be("v2", 1)))},
			target: "/", backend: "app/v2:80", rule: "app/wr#0"},
		{name: "service routes take precedence over waypoint routes", spec: "GEP-1426, as Istio ambient: a Service's own routes are more specific than the Waypoint's",
			routes: []*gwv1.HTTPRoute{waypointRoute("wr", nil, rule(nil, be("v2", 1))), route("sr", 5, rule(nil, be("v1", 1)))},
			target: "/", backend: "app/v1:80", rule: "app/sr#0"},
		{name: "waypoint route hostnames: wildcard suffix matches", spec: "HTTPRouteSpec.Hostnames: *.example.com matches test.example.com",
			routes: []*gwv1.HTTPRoute{waypointRoute("wr", []gwv1.Hostname{"*.example.com"}, rule(nil, be("v2", 1)))},
			host:   "web.example.com:80", target: "/", backend: "app/v2:80"},
		{name: "exact hostname beats wildcard even with a weaker path match", spec: "HTTPRouteSpec.Hostnames: precedence to the most characters in a matching non-wildcard hostname",
			routes: []*gwv1.HTTPRoute{
				waypointRoute("wild", []gwv1.Hostname{"*.example.com"}, rule(matches(match(exact("/a"))), be("v1", 1))),
				waypointRoute("exact", []gwv1.Hostname{"web.example.com"}, rule(nil, be("v2", 1))),
			},
			host: "web.example.com", target: "/a", backend: "app/v2:80", rule: "app/exact#0"},
		{name: "longer wildcard beats shorter wildcard", spec: "HTTPRouteSpec.Hostnames: then the most characters in a matching hostname",
			routes: []*gwv1.HTTPRoute{
				waypointRoute("short", []gwv1.Hostname{"*.com"}, rule(nil, be("v1", 1))),
				waypointRoute("long", []gwv1.Hostname{"*.example.com"}, rule(nil, be("v2", 1))),
			},
			host: "web.example.com", target: "/", backend: "app/v2:80"},
		{name: "waypoint route hostnames: wildcard does not match the bare domain", spec: "HTTPRouteSpec.Hostnames: *.example.com does not match example.com",
			routes: []*gwv1.HTTPRoute{waypointRoute("wr", []gwv1.Hostname{"*.example.com"}, rule(nil, be("v2", 1)))},
			host:   "example.com", target: "/", status: 404},

		// --- Path matching ---
		{name: "exact path matches", spec: "PathMatchExact: /abc matches /abc",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(exact("/abc"))), be("v1", 1)))},
			target: "/abc", backend: "app/v1:80"},
		{name: "exact path does not match trailing slash", spec: "PathMatchExact: /abc does not match /abc/",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(exact("/abc"))), be("v1", 1)))},
			target: "/abc/", status: 404, reason: "no route"},
		{name: "exact path is case sensitive", spec: "PathMatchExact: /abc does not match /Abc",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(exact("/abc"))), be("v1", 1)))},
			target: "/Abc", status: 404},
		{name: "prefix matches deeper path", spec: "PathMatchPathPrefix: /abc matches /abc/def",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/abc"))), be("v1", 1)))},
			target: "/abc/def", backend: "app/v1:80"},
		{name: "prefix is element-wise", spec: "PathMatchPathPrefix: /abc does not match /abcd",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/abc"))), be("v1", 1)))},
			target: "/abcd", status: 404},
		{name: "prefix trailing slash is ignored", spec: "PathMatchPathPrefix: a trailing / is ignored, /abc/ matches /abc",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/abc/"))), be("v1", 1)))},
			target: "/abc", backend: "app/v1:80"},
		{name: "regex path must match the whole path", spec: "PathMatchRegularExpression (implementation-specific: RE2, full match)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(regex(`/v[0-9]+/x`))), be("v1", 1)))},
			target: "/v12/xy", status: 404},
		{name: "regex path matches", spec: "PathMatchRegularExpression (implementation-specific: RE2, full match)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(regex(`/v[0-9]+/x`))), be("v1", 1)))},
			target: "/v12/x", backend: "app/v1:80"},
		{name: "dot segments are removed before matching", spec: "HTTPPathMatch + RFC 3986 §5.2.4 (path normalisation before routing)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/public"))), be("v1", 1)))},
			target: "/public/../admin", status: 404},
		{name: "no matches means prefix /", spec: "HTTPRouteRule.Matches: default is a prefix path match on /",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("v1", 1)))},
			target: "/x/y?z=1", backend: "app/v1:80", path: "/x/y?z=1"},
		{name: "matches within a rule are ORed", spec: "HTTPRouteRule.Matches: the rule matches if any one match is satisfied",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(exact("/a")), match(exact("/b"))), be("v1", 1)))},
			target: "/b", backend: "app/v1:80"},
		{name: "conditions within a match are ANDed", spec: "HTTPRouteMatch: multiple match types are ANDed",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/a"), header("x", "1"))), be("v1", 1)))},
			target: "/a", status: 404},

		// --- Precedence ---
		{name: "exact beats prefix", spec: "HTTPRouteRule.Matches precedence: Exact path match first",
			routes: []*gwv1.HTTPRoute{route("old", 0, rule(matches(match(prefix("/abc"))), be("v1", 1))), route("new", 9, rule(matches(match(exact("/abc"))), be("v2", 1)))},
			target: "/abc", backend: "app/v2:80", rule: "app/new#0"},
		{name: "longest prefix wins", spec: "HTTPRouteRule.Matches precedence: Prefix with largest number of characters",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/a"))), be("v1", 1)), rule(matches(match(prefix("/a/b"))), be("v2", 1)))},
			target: "/a/b/c", backend: "app/v2:80", rule: "app/r#1"},
		{name: "regex ranks between exact and prefix", spec: "HTTPRouteRule.Matches: RegularExpression precedence is implementation-specific (docs/waypoint.md)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/a/b/c/d"))), be("v1", 1)), rule(matches(match(regex("/a/.*"))), be("v2", 1)))},
			target: "/a/b/c/d", backend: "app/v2:80"},
		{name: "method match beats no method", spec: "HTTPRouteRule.Matches precedence: Method match",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/"))), be("v1", 1)), rule(matches(match(prefix("/"), method("POST"))), be("v2", 1)))},
			method: "POST", target: "/", backend: "app/v2:80"},
		{name: "method mismatch falls through", spec: "HTTPRouteMatch.Method: matched only if the request has the method",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(prefix("/"))), be("v1", 1)), rule(matches(match(prefix("/"), method("POST"))), be("v2", 1)))},
			method: "GET", target: "/", backend: "app/v1:80"},
		{name: "more header matches win", spec: "HTTPRouteRule.Matches precedence: Largest number of header matches",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(header("a", "1"))), be("v1", 1)), rule(matches(match(header("a", "1"), header("b", "2"))), be("v2", 1)))},
			target: "/", headers: map[string][]string{"A": {"1"}, "B": {"2"}}, backend: "app/v2:80"},
		{name: "more query matches win", spec: "HTTPRouteRule.Matches precedence: Largest number of query param matches",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(query("a", "1"))), be("v1", 1)), rule(matches(match(query("a", "1"), query("b", "2"))), be("v2", 1)))},
			target: "/?a=1&b=2", backend: "app/v2:80"},
		{name: "oldest route wins a tie", spec: "HTTPRouteRule.Matches tie-break: oldest Route by creation timestamp",
			routes: []*gwv1.HTTPRoute{route("a-new", 10, rule(nil, be("v1", 1))), route("z-old", 1, rule(nil, be("v2", 1)))},
			target: "/", backend: "app/v2:80", rule: "app/z-old#0"},
		{name: "alphabetical namespace/name breaks a timestamp tie", spec: "HTTPRouteRule.Matches tie-break: first by {namespace}/{name}",
			routes: []*gwv1.HTTPRoute{route("b", 1, rule(nil, be("v1", 1))), route("a", 1, rule(nil, be("v2", 1)))},
			target: "/", backend: "app/v2:80", rule: "app/a#0"},
		{name: "first rule in list order wins within a route", spec: "HTTPRouteRule.Matches tie-break: FIRST matching rule in list order",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("v1", 1)), rule(nil, be("v2", 1)))},
			target: "/", backend: "app/v1:80", rule: "app/r#0"},

		// --- Header, query, method ---
		{name: "header names are case-insensitive", spec: "HTTPHeaderMatch.Name: matching MUST be case-insensitive",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(header("X-Version", "v2"))), be("v2", 1)))},
			target: "/", headers: map[string][]string{"x-version": {"v2"}}, backend: "app/v2:80"},
		{name: "header value is exact", spec: "HeaderMatchExact (Core)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(header("X-Version", "v2"))), be("v2", 1)))},
			target: "/", headers: map[string][]string{"X-Version": {"V2"}}, status: 404},
		{name: "header regex", spec: "HeaderMatchRegularExpression (implementation-specific: RE2 full match)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(headerRE("X-Version", `v[0-9]+`))), be("v2", 1)))},
			target: "/", headers: map[string][]string{"X-Version": {"v42"}}, backend: "app/v2:80"},
		{name: "duplicate header match names: only the first counts", spec: "HTTPHeaderMatch.Name: subsequent equivalent entries MUST be ignored",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(header("x", "1"), header("X", "2"))), be("v1", 1)))},
			target: "/", headers: map[string][]string{"X": {"1"}}, backend: "app/v1:80"},
		{name: "missing header does not match", spec: "HTTPRouteMatch.Headers: the request must match all headers",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(header("x", "1"))), be("v1", 1)))},
			target: "/", status: 404},
		{name: "query param exact", spec: "QueryParamMatchExact (Core)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(query("env", "prod"))), be("v1", 1)))},
			target: "/?env=prod", backend: "app/v1:80"},
		{name: "query param names are case-sensitive", spec: "HTTPQueryParamMatch.Name: must be an exact string match",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(query("env", "prod"))), be("v1", 1)))},
			target: "/?ENV=prod", status: 404},
		{name: "repeated query param: first value", spec: "HTTPQueryParamMatch.Name: recommended to match the first value",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(query("env", "prod"))), be("v1", 1)))},
			target: "/?env=prod&env=dev", backend: "app/v1:80"},
		{name: "query regex", spec: "QueryParamMatchRegularExpression (implementation-specific: RE2)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(queryRE("id", `[0-9]+`))), be("v1", 1)))},
			target: "/?id=x12", status: 404},

		// --- Backends ---
		{name: "weights pick the first backend", spec: "BackendRef.Weight: proportional split (Core)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("v1", 90), be("v2", 10)))},
			target: "/", rnd: 89, backend: "app/v1:80"},
		{name: "weights pick the second backend", spec: "BackendRef.Weight: proportional split (Core)",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("v1", 90), be("v2", 10)))},
			target: "/", rnd: 90, backend: "app/v2:80"},
		{name: "weight zero gets no traffic", spec: "BackendRef.Weight: 0 means no traffic to this entry",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("v1", 0), be("v2", 5)))},
			target: "/", rnd: 0, backend: "app/v2:80"},
		{name: "all weights zero is a 500", spec: "HTTPRouteRule.BackendRefs: no usable backend → 500",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("v1", 0)))},
			target: "/", status: 500, reason: "no backend"},
		{name: "rule without backendRefs is a 500", spec: "HTTPRouteRule.BackendRefs: no backends and no filters → 500",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil))},
			target: "/", status: 500, reason: "no backend"},
		{name: "missing service is a 500 with the reason", spec: "HTTPBackendRef: invalid reference → 500 for its share",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("ghost", 1)))},
			target: "/", status: 500, reason: "service not found"},
		{name: "cross-namespace without ReferenceGrant is a 500", spec: "HTTPRoute BackendRef + ReferenceGrant: RefNotPermitted",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, beNS("other", "remote")))},
			target: "/", status: 500, reason: "not permitted"},
		{name: "cross-namespace with ReferenceGrant forwards", spec: "ReferenceGrant: From HTTPRoute in app To Service in other",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, beNS("other", "remote")))},
			mutate: func(in *Input) {
				in.ReferenceGrants = []*gwv1.ReferenceGrant{{
					ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "g"},
					Spec: gwv1.ReferenceGrantSpec{
						From: []gwv1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: "app"}},
						To:   []gwv1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
					},
				}}
			},
			target: "/", backend: "other/remote:80",
			check: func(t *testing.T, d Decision) {
				if !d.Backend.Backend.Endpoints[0].InMesh {
					t.Error("endpoint in an ambient namespace must be InMesh")
				}
			}},
		{name: "service without ready endpoints is a 503", spec: "HTTPRouteRule.BackendRefs: Service with no ready endpoints SHOULD get 503",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, be("empty", 1)))},
			target: "/", status: 503, reason: "no ready endpoints"},
		{name: "unsupported backend kind is a 500", spec: "BackendObjectReference.Kind: only Service is supported (Core)",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				b := be("v1", 1)
				b.Kind = ptr.To[gwv1.Kind]("ServiceImport")
				return route("r", 0, rule(nil, b))
			}()},
			target: "/", status: 500, reason: "unsupported kind"},
		{name: "out-of-mesh backend endpoints are plain", spec: "Issue 5: out-of-mesh destinations get plain HTTP",
			routes: []*gwv1.HTTPRoute{route("r", 0, rule(nil, beNS("legacy", "old")))},
			mutate: func(in *Input) {
				in.ReferenceGrants = []*gwv1.ReferenceGrant{{
					ObjectMeta: metav1.ObjectMeta{Namespace: "legacy", Name: "g"},
					Spec: gwv1.ReferenceGrantSpec{
						From: []gwv1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: "app"}},
						To:   []gwv1.ReferenceGrantTo{{Group: "", Kind: "Service", Name: ptr.To[gwv1.ObjectName]("old")}},
					},
				}}
			},
			target: "/", backend: "legacy/old:80",
			check: func(t *testing.T, d Decision) {
				if ep := d.Backend.Backend.Endpoints[0]; ep.InMesh || ep.Addr != netip.MustParseAddrPort("10.3.0.1:8080") {
					t.Errorf("endpoint = %+v, want plain 10.3.0.1:8080", ep)
				}
			}},

		// --- Filters ---
		{name: "RequestHeaderModifier set, add, remove", spec: "HTTPHeaderFilter: Set overwrites, Add appends, Remove deletes",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), reqHeaders(hv("X-Set", "new"), hv("X-Add", "two"), "X-Gone")))},
			target: "/", headers: map[string][]string{"X-Set": {"old"}, "X-Add": {"one"}, "X-Gone": {"bye"}},
			backend: "app/v1:80", reqHeaders: map[string]string{"X-Set": "new", "X-Add": "one,two", "X-Gone": ""}},
		{name: "ResponseHeaderModifier set, add, remove", spec: "HTTPRouteFilterResponseHeaderModifier (Extended)",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), respHeaders(hv("X-Up", "set"), hv("X-New", "1"), "Server")))},
			target: "/", backend: "app/v1:80", respHeaders: map[string]string{"X-Up": "set", "X-New": "1", "Server": ""}},
		{name: "backendRef-level header modifier", spec: "HTTPBackendRef.Filters: applied only to requests sent to that backend",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				b := be("v1", 1)
				b.Filters = []gwv1.HTTPRouteFilter{reqHeaders(hv("X-Backend", "v1"), nil)}
				return route("r", 0, rule(nil, b))
			}()},
			target: "/", backend: "app/v1:80", reqHeaders: map[string]string{"X-Backend": "v1"}},
		{name: "RequestHeaderModifier can set Host", spec: "HTTPHeaderFilter.Set on Host changes the upstream authority",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), reqHeaders(hv("Host", "api.internal"), nil)))},
			target: "/", backend: "app/v1:80", reqHeaders: map[string]string{"Host": ""}, outHost: "api.internal"},
		{name: "redirect to https drops the port", spec: "HTTPRequestRedirectFilter.Port: scheme https → 443, omitted from Location; default 302",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil), redirectF(gwv1.HTTPRequestRedirectFilter{Scheme: s2("https")})))},
			target: "/a?b=1", host: "web.app", status: 302, location: "https://web.app/a?b=1"},
		{name: "redirect without scheme keeps the listener port", spec: "HTTPRequestRedirectFilter.Port: empty scheme → listener port",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil), redirectF(gwv1.HTTPRequestRedirectFilter{Hostname: ptr.To[gwv1.PreciseHostname]("x.example")})))},
			dst:    webVIP, target: "/a", status: 302, location: "http://x.example/a"},
		{name: "redirect hostname, port and 301", spec: "HTTPRequestRedirectFilter: Hostname, Port, StatusCode",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil), redirectF(gwv1.HTTPRequestRedirectFilter{Hostname: ptr.To[gwv1.PreciseHostname]("x.example"), Port: ptr.To[int32](8443), StatusCode: ptr.To(301)})))},
			target: "/a", status: 301, location: "http://x.example:8443/a"},
		{name: "redirect ReplacePrefixMatch", spec: "HTTPPathModifier ReplacePrefixMatch in RequestRedirect",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/old")))), redirectF(gwv1.HTTPRequestRedirectFilter{Path: prefixMod("/new")})))},
			target: "/old/page?q=1", host: "web", status: 302, location: "http://web/new/page?q=1"},
		{name: "redirect ReplaceFullPath", spec: "HTTPPathModifier ReplaceFullPath in RequestRedirect",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/old")))), redirectF(gwv1.HTTPRequestRedirectFilter{Path: fullMod("/landing")})))},
			target: "/old/page", host: "web", status: 302, location: "http://web/landing"},
		{name: "URLRewrite hostname", spec: "HTTPURLRewriteFilter.Hostname replaces Host when forwarding",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Hostname: ptr.To[gwv1.PreciseHostname]("internal.example")})))},
			target: "/", backend: "app/v1:80", outHost: "internal.example", reqHeaders: map[string]string{}},
		{name: "URLRewrite ReplacePrefixMatch /foo → /xyz", spec: "HTTPPathModifier.ReplacePrefixMatch table: /foo/bar, /foo, /xyz → /xyz/bar",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/foo"))), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: prefixMod("/xyz")})))},
			target: "/foo/bar", path: "/xyz/bar", backend: "app/v1:80"},
		{name: "URLRewrite ReplacePrefixMatch trailing slashes", spec: "HTTPPathModifier.ReplacePrefixMatch table: /foo/bar, /foo/, /xyz/ → /xyz/bar",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/foo/"))), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: prefixMod("/xyz/")})))},
			target: "/foo/bar", path: "/xyz/bar", backend: "app/v1:80"},
		{name: "URLRewrite ReplacePrefixMatch to empty", spec: "HTTPPathModifier.ReplacePrefixMatch table: /foo, /foo, <empty> → /",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/foo"))), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: prefixMod("")})))},
			target: "/foo", path: "/", backend: "app/v1:80"},
		{name: "URLRewrite ReplacePrefixMatch keeps trailing slash", spec: "HTTPPathModifier.ReplacePrefixMatch table: /foo/, /foo, /xyz → /xyz/",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/foo"))), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: prefixMod("/xyz")})))},
			target: "/foo/", path: "/xyz/", backend: "app/v1:80"},
		{name: "URLRewrite ReplaceFullPath keeps the query", spec: "HTTPPathModifier.ReplaceFullPath",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(prefix("/foo"))), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: fullMod("/one")})))},
			target: "/foo/bar?x=1", path: "/one?x=1", backend: "app/v1:80"},
		{name: "RequestMirror compiled with percent; unresolvable mirror dropped", spec: "HTTPRequestMirrorFilter: Percent; unresolvable BackendRef must be dropped",
			routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)),
				gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: &gwv1.HTTPRequestMirrorFilter{BackendRef: be("v2", 1).BackendObjectReference, Percent: ptr.To[int32](50)}},
				gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: &gwv1.HTTPRequestMirrorFilter{BackendRef: be("ghost", 1).BackendObjectReference}},
			))},
			target: "/", backend: "app/v1:80",
			check: func(t *testing.T, d Decision) {
				ms := d.Match.Rule.Mirrors
				if len(ms) != 1 || ms[0].Backend.Label() != "app/v2:80" || ms[0].Numerator != 50 || ms[0].Denominator != 100 {
					t.Errorf("mirrors = %+v, want one app/v2:80 at 50/100", ms)
				}
			}},

		// --- Timeouts and retries ---
		{name: "timeouts are compiled", spec: "HTTPRouteTimeouts: request and backendRequest (GEP-1742, GEP-2257 durations)",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := rule(nil, be("v1", 1))
				r.Timeouts = &gwv1.HTTPRouteTimeouts{Request: ptr.To[gwv1.Duration]("10s"), BackendRequest: ptr.To[gwv1.Duration]("1s500ms")}
				return route("r", 0, r)
			}()},
			target: "/", backend: "app/v1:80",
			check: func(t *testing.T, d Decision) {
				if d.Match.Rule.RequestTimeout != 10*time.Second || d.Match.Rule.BackendTimeout != 1500*time.Millisecond {
					t.Errorf("timeouts = %v/%v", d.Match.Rule.RequestTimeout, d.Match.Rule.BackendTimeout)
				}
			}},
		{name: "retry is compiled", spec: "HTTPRouteRetry (GEP-1731): codes, attempts, backoff",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := rule(nil, be("v1", 1))
				r.Retry = &gwv1.HTTPRouteRetry{Codes: []gwv1.HTTPRouteRetryStatusCode{503}, Attempts: ptr.To(3), Backoff: ptr.To[gwv1.Duration]("100ms")}
				return route("r", 0, r)
			}()},
			target: "/", backend: "app/v1:80",
			check: func(t *testing.T, d Decision) {
				rt := d.Match.Rule.Retry
				if rt == nil || rt.Attempts != 3 || !rt.Codes[503] || rt.Codes[500] || rt.Backoff != 100*time.Millisecond {
					t.Errorf("retry = %+v", rt)
				}
			}},

		// --- Invalid configuration: skipped with a reason, other rules keep working ---
		{name: "redirect with URLRewrite is rejected", spec: "HTTPRouteRule.Filters: URLRewrite and RequestRedirect may not be combined",
			routes: []*gwv1.HTTPRoute{route("r", 0,
				withFilters(rule(matches(match(prefix("/bad")))), redirectF(gwv1.HTTPRequestRedirectFilter{}), rewriteF(gwv1.HTTPURLRewriteFilter{})),
				rule(nil, be("v1", 1)))},
			skipped: []string{"cannot be combined"}, target: "/bad", backend: "app/v1:80"},
		{name: "ReplacePrefixMatch with an Exact match is rejected", spec: "HTTPPathModifier.ReplacePrefixMatch: only compatible with PathPrefix",
			routes:  []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(matches(match(exact("/a"))), be("v1", 1)), rewriteF(gwv1.HTTPURLRewriteFilter{Path: prefixMod("/b")})))},
			skipped: []string{"requires PathPrefix", "no valid rules"}, target: "/a", backend: "app/web:80", rule: "default#0"},
		{name: "invalid regex skips only its rule", spec: "HTTPRouteRule.Filters/Matches: invalid rules → PartiallyInvalid, others still served",
			routes:  []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(regex("(unclosed"))), be("v2", 1)), rule(nil, be("v1", 1)))},
			skipped: []string{"regex"}, target: "/x", backend: "app/v1:80"},
		{name: "unsupported filter type is rejected", spec: "HTTPRouteFilter.Type: unknown values → Accepted=False UnsupportedValue, never a crash",
			routes:  []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterExtensionRef}))},
			skipped: []string{"unsupported filter type", "no valid rules"}, target: "/", backend: "app/web:80"},
		{name: "unknown path match type is rejected", spec: "PathMatchType: unknown values must not crash; Accepted=False",
			routes:  []*gwv1.HTTPRoute{route("r", 0, rule(matches(match(path("Glob", "/*"))), be("v1", 1)))},
			skipped: []string{"unsupported path match type", "no valid rules"}, target: "/", backend: "app/web:80"},
		{name: "backendRequest longer than request is rejected", spec: "HTTPRouteTimeouts.BackendRequest must be no more than Request",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := rule(nil, be("v1", 1))
				r.Timeouts = &gwv1.HTTPRouteTimeouts{Request: ptr.To[gwv1.Duration]("1s"), BackendRequest: ptr.To[gwv1.Duration]("2s")}
				return route("r", 0, r)
			}()},
			skipped: []string{"exceeds", "no valid rules"}, target: "/", backend: "app/web:80"},
		{name: "invalid duration is rejected", spec: "GEP-2257 Duration format: 1d is not valid",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := rule(nil, be("v1", 1))
				r.Timeouts = &gwv1.HTTPRouteTimeouts{Request: ptr.To[gwv1.Duration]("1d")}
				return route("r", 0, r)
			}()},
			skipped: []string{"GEP-2257", "no valid rules"}, target: "/", backend: "app/web:80"},
		{name: "header named by two modifier actions is rejected", spec: "HTTPHeaderFilter: multiple actions for one header name are invalid",
			routes:  []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), reqHeaders(hv("X-A", "1"), nil, "x-a")))},
			skipped: []string{"more than one action", "no valid rules"}, target: "/", backend: "app/web:80"},
		{name: "retry code outside 400-599 is rejected", spec: "HTTPRouteRetryStatusCode: 400-599 only",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := rule(nil, be("v1", 1))
				r.Retry = &gwv1.HTTPRouteRetry{Codes: []gwv1.HTTPRouteRetryStatusCode{302}}
				return route("r", 0, r)
			}()},
			skipped: []string{"retry.codes", "no valid rules"}, target: "/", backend: "app/web:80"},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec == "" {
				t.Fatal("every case must cite the spec")
			}
			runRouteCase(t, tc)
		})
	}
}
