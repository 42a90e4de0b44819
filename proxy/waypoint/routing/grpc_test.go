package routing

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// grpcRoute builds a GRPCRoute attached to Service app/web, created age
// seconds after baseTime.
func grpcRoute(name string, age int, rules ...gwv1.GRPCRouteRule) *gwv1.GRPCRoute {
	return &gwv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, CreationTimestamp: metav1.NewTime(baseTime.Add(time.Duration(age) * time.Second))},
		Spec: gwv1.GRPCRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
			Rules:           rules,
		},
	}
}

func grule(ms []gwv1.GRPCRouteMatch, backends ...gwv1.GRPCBackendRef) gwv1.GRPCRouteRule {
	return gwv1.GRPCRouteRule{Matches: ms, BackendRefs: backends}
}

func gbe(name string, weight int32) gwv1.GRPCBackendRef {
	return gwv1.GRPCBackendRef{BackendRef: be(name, weight).BackendRef}
}

type gmatchOpt func(*gwv1.GRPCRouteMatch)

func gmatch(opts ...gmatchOpt) gwv1.GRPCRouteMatch {
	var m gwv1.GRPCRouteMatch
	for _, o := range opts {
		o(&m)
	}
	return m
}

func gmatches(ms ...gwv1.GRPCRouteMatch) []gwv1.GRPCRouteMatch { return ms }

func gmethod(svc, method string) gmatchOpt {
	return func(m *gwv1.GRPCRouteMatch) {
		m.Method = &gwv1.GRPCMethodMatch{}
		if svc != "" {
			m.Method.Service = ptr.To(svc)
		}
		if method != "" {
			m.Method.Method = ptr.To(method)
		}
	}
}

func gmethodRE(svc, method string) gmatchOpt {
	return func(m *gwv1.GRPCRouteMatch) {
		gmethod(svc, method)(m)
		m.Method.Type = ptr.To(gwv1.GRPCMethodMatchRegularExpression)
	}
}

func gheader(n, v string) gmatchOpt {
	return func(m *gwv1.GRPCRouteMatch) {
		m.Headers = append(m.Headers, gwv1.GRPCHeaderMatch{Name: gwv1.GRPCHeaderName(n), Value: v})
	}
}

func gheaderRE(n, v string) gmatchOpt {
	return func(m *gwv1.GRPCRouteMatch) {
		m.Headers = append(m.Headers, gwv1.GRPCHeaderMatch{Type: ptr.To(gwv1.GRPCHeaderMatchRegularExpression), Name: gwv1.GRPCHeaderName(n), Value: v})
	}
}

func gfilters(r gwv1.GRPCRouteRule, fs ...gwv1.GRPCRouteFilter) gwv1.GRPCRouteRule {
	r.Filters = fs
	return r
}

var grpcHeaders = map[string][]string{"Content-Type": {"application/grpc"}, "Te": {"trailers"}}

func withGRPC(h map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range grpcHeaders {
		out[k] = v
	}
	for k, v := range h {
		out[k] = v
	}
	return out
}

func TestGRPCRouteTable(t *testing.T) {
	const post = "POST"
	grpcOnly := func(d Decision) bool { return d.GRPC }
	twoPorts := func(in *Input) {
		for _, s := range in.Services {
			if s.Name == "web" {
				s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "grpc", Port: 7070, Protocol: corev1.ProtocolTCP})
			}
		}
	}
	cases := []routeCase{
		// --- Method matching ---
		{name: "exact service and method", spec: "GRPCMethodMatch Exact with service and method: Core",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1)))},
			method:     post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v1:80", rule: "app/g#0", path: "/foo.Bar/Get"},
		{name: "exact method is case sensitive", spec: "GRPCMethodMatchExact: matches the method exactly and with case sensitivity",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1)))},
			method:     post, target: "/foo.Bar/get", headers: grpcHeaders, status: 404},
		{name: "other method of the service does not match", spec: "GRPCMethodMatch: service AND method",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1)))},
			method:     post, target: "/foo.Bar/List", headers: grpcHeaders, status: 404},
		{name: "service only matches every method of that service", spec: "GRPCMethodMatch.Method: if omitted, matches all methods",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", ""))), gbe("v1", 1)))},
			method:     post, target: "/foo.Bar/List", headers: grpcHeaders, backend: "app/v1:80"},
		{name: "service only does not match a longer service name", spec: "GRPCMethodMatch Exact: the service name as a whole",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", ""))), gbe("v1", 1)))},
			method:     post, target: "/foo.BarV2/List", headers: grpcHeaders, status: 404},
		{name: "method only matches that method of any service", spec: "GRPCMethodMatch Exact with method but no service: implementation-specific",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("", "Check"))), gbe("v1", 1)))},
			method:     post, target: "/grpc.health.v1.Health/Check", headers: grpcHeaders, backend: "app/v1:80"},
		{name: "regular expression on service and method", spec: "GRPCMethodMatchRegularExpression (RE2, whole value)",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethodRE(`foo\.v[0-9]+\.Bar`, "(Get|List)"))), gbe("v1", 1)))},
			method:     post, target: "/foo.v2.Bar/List", headers: grpcHeaders, backend: "app/v1:80"},
		{name: "regular expression must match the whole service", spec: "GRPCMethodMatchRegularExpression",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethodRE(`foo\.v[0-9]+`, ""))), gbe("v1", 1)))},
			method:     post, target: "/foo.v2.Bar/List", headers: grpcHeaders, status: 404},
		{name: "no matches matches every request", spec: "GRPCRouteRule.Matches: if no matches are specified, the implementation MUST match every gRPC request",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(nil, gbe("v2", 1)))},
			method:     post, target: "/any.Service/Any", headers: grpcHeaders, backend: "app/v2:80"},

		// --- Header matching ---
		{name: "header exact match, name case-insensitive", spec: "GRPCHeaderMatch: header names are case-insensitive",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", ""), gheader("Version", "2"))), gbe("v2", 1)))},
			method:     post, target: "/foo.Bar/Get", headers: withGRPC(map[string][]string{"version": {"2"}}), backend: "app/v2:80"},
		{name: "header value mismatch does not match", spec: "GRPCRouteMatch: method AND headers",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", ""), gheader("Version", "2"))), gbe("v2", 1)))},
			method:     post, target: "/foo.Bar/Get", headers: withGRPC(map[string][]string{"Version": {"3"}}), status: 404},
		{name: "header regular expression", spec: "GRPCHeaderMatchRegularExpression",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gheaderRE("X-Tenant", "team-[a-z]+"))), gbe("v1", 1)))},
			method:     post, target: "/foo.Bar/Get", headers: withGRPC(map[string][]string{"X-Tenant": {"team-blue"}}), backend: "app/v1:80"},
		{name: "matches are ORed", spec: "GRPCRouteRule.Matches: the rule matches if any one match is satisfied",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(
				gmatch(gmethod("foo.Bar", ""), gheader("Version", "2")), gmatch(gmethod("foo.bar.v2", ""))), gbe("v2", 1)))},
			method: post, target: "/foo.bar.v2/Get", headers: grpcHeaders, backend: "app/v2:80"},

		// --- Precedence ---
		{name: "longer service wins", spec: "GRPCRouteRule precedence: characters in a matching service",
			grpcRoutes: []*gwv1.GRPCRoute{
				grpcRoute("short", 0, grule(gmatches(gmatch(gmethodRE("foo.*", ""))), gbe("v1", 1))),
				grpcRoute("long", 5, grule(gmatches(gmatch(gmethod("foo.Bar", ""))), gbe("v2", 1))),
			},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v2:80", rule: "app/long#0"},
		{name: "then longer method wins", spec: "GRPCRouteRule precedence: then characters in a matching method",
			grpcRoutes: []*gwv1.GRPCRoute{
				grpcRoute("svc", 0, grule(gmatches(gmatch(gmethod("foo.Bar", ""))), gbe("v1", 1))),
				grpcRoute("method", 5, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v2", 1))),
			},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v2:80", rule: "app/method#0"},
		{name: "then more header matches win", spec: "GRPCRouteRule precedence: then header matches",
			grpcRoutes: []*gwv1.GRPCRoute{
				grpcRoute("one", 0, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1))),
				grpcRoute("two", 5, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"), gheader("A", "1"))), gbe("v2", 1))),
			},
			method: post, target: "/foo.Bar/Get", headers: withGRPC(map[string][]string{"A": {"1"}}), backend: "app/v2:80"},
		{name: "ties go to the older route", spec: "GRPCRouteRule: then the oldest Route",
			grpcRoutes: []*gwv1.GRPCRoute{
				grpcRoute("young", 9, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1))),
				grpcRoute("old", 1, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v2", 1))),
			},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v2:80", rule: "app/old#0"},
		{name: "then namespace/name order", spec: "GRPCRouteRule: then alphabetical {namespace}/{name}",
			grpcRoutes: []*gwv1.GRPCRoute{
				grpcRoute("b", 0, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1))),
				grpcRoute("a", 0, grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v2", 1))),
			},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v2:80", rule: "app/a#0"},
		{name: "then the first rule of the route", spec: "GRPCRouteRule: first matching rule within the route",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0,
				grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v1", 1)),
				grule(gmatches(gmatch(gmethod("foo.Bar", "Get"))), gbe("v2", 1)))},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v1:80", rule: "app/g#0"},

		// --- Backends and weights ---
		{name: "weights: 70/30, low draw", spec: "GRPCBackendRef weight: Core (MeshGRPCRouteWeight)",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(nil, gbe("v1", 70), gbe("v2", 30)))},
			method:     post, target: "/foo.Bar/Get", headers: grpcHeaders, rnd: 69, backend: "app/v1:80"},
		{name: "weights: 70/30, high draw", spec: "GRPCBackendRef weight: Core",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(nil, gbe("v1", 70), gbe("v2", 30)))},
			method:     post, target: "/foo.Bar/Get", headers: grpcHeaders, rnd: 70, backend: "app/v2:80"},
		{name: "weight 0 of a missing Service takes no traffic", spec: "GRPCBackendRef weight 0: no traffic (conformance MeshGRPCRouteWeight's echo-v3)",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(nil, gbe("v1", 70), gbe("v2", 30), gbe("nope", 0)))},
			method:     post, target: "/foo.Bar/Get", headers: grpcHeaders, rnd: 99, backend: "app/v2:80"},
		{name: "invalid backend: error flagged for gRPC", spec: "GRPCRouteRule.BackendRefs: requests to an invalid backend MUST receive UNAVAILABLE",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(nil, gbe("nope", 1)))},
			method:     post, target: "/foo.Bar/Get", headers: grpcHeaders, status: 500, reason: "not found",
			check: func(t *testing.T, d Decision) {
				if !grpcOnly(d) {
					t.Error("Decision.GRPC = false, want true: the handler must answer with a gRPC status")
				}
			}},
		{name: "no match: error flagged for gRPC", spec: "GEP-1016: unmatched gRPC requests get a gRPC status (UNIMPLEMENTED)",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo.Bar", ""))), gbe("v1", 1)))},
			method:     post, target: "/other.Svc/Get", headers: grpcHeaders, status: 404,
			check: func(t *testing.T, d Decision) {
				if !d.GRPC {
					t.Error("Decision.GRPC = false, want true")
				}
			}},

		// --- Filters ---
		{name: "request and response header modifiers on the rule and the backendRef", spec: "GRPCRouteFilter RequestHeaderModifier (Core), ResponseHeaderModifier (Extended), on GRPCBackendRef (Extended)",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, func() gwv1.GRPCRouteRule {
				r := gfilters(grule(nil, gbe("v1", 1)),
					gwv1.GRPCRouteFilter{Type: gwv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: hv("X-Rule", "r")}},
					gwv1.GRPCRouteFilter{Type: gwv1.GRPCRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Add: hv("X-Resp", "r")}})
				r.BackendRefs[0].Filters = []gwv1.GRPCRouteFilter{{Type: gwv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: hv("X-Backend", "b")}}}
				return r
			}())},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v1:80",
			reqHeaders: map[string]string{"X-Rule": "r", "X-Backend": "b"}, respHeaders: map[string]string{"X-Resp": "r", "X-Up": "up"}},
		{name: "ExtensionRef is not supported: rule skipped", spec: "GRPCRouteFilterExtensionRef: implementation-specific; unknown filters must not be ignored",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, gfilters(grule(nil, gbe("v1", 1)),
				gwv1.GRPCRouteFilter{Type: gwv1.GRPCRouteFilterExtensionRef, ExtensionRef: &gwv1.LocalObjectReference{Group: "x", Kind: "y", Name: "z"}}))},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/web:80", rule: "default#0",
			skipped: []string{"unsupported filter type", "no valid rules"}},
		{name: "exact service with a slash is invalid", spec: "GRPCMethodMatchType Exact: must not contain /",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(gmatches(gmatch(gmethod("foo/Bar", ""))), gbe("v1", 1)))},
			method:     post, target: "/foo/Bar/x", headers: grpcHeaders, backend: "app/web:80", rule: "default#0",
			skipped: []string{"not a gRPC service or method name", "no valid rules"}},

		// --- GRPCRoute and HTTPRoute on one Service port ---
		{name: "GRPCRoute wins over an HTTPRoute on the same port", spec: "GEP-1294 Route types: GRPCRoute before HTTPRoute; the other is rejected (Conflicted)",
			routes:     []*gwv1.HTTPRoute{route("h", 0, rule(nil, be("v2", 1)))},
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 5, grule(nil, gbe("v1", 1)))},
			method:     post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v1:80", rule: "app/g#0",
			skipped: []string{"Conflicted: GRPCRoutes take precedence"}},
		{name: "plain HTTP to a GRPCRoute port gets no HTTPRoute", spec: "GEP-1016 Cross Serving: routes of the two kinds never merge",
			routes:     []*gwv1.HTTPRoute{route("h", 0, rule(matches(match(prefix("/web"))), be("v2", 1)))},
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 5, grule(gmatches(gmatch(gmethod("foo.Bar", ""))), gbe("v1", 1)))},
			target:     "/web/page", status: 404, skipped: []string{"Conflicted"}},
		{name: "GRPCRoute on another port leaves the HTTPRoute alone there", spec: "GEP-1294 Ports: a parentRef port binds that port only; conflicts are per Service and port",
			mutate: twoPorts,
			routes: []*gwv1.HTTPRoute{route("h", 0, rule(nil, be("v2", 1)))},
			grpcRoutes: []*gwv1.GRPCRoute{func() *gwv1.GRPCRoute {
				r := grpcRoute("g", 5, grule(nil, gbe("v1", 1)))
				r.Spec.ParentRefs[0].Port = ptr.To[int32](7070)
				return r
			}()},
			target: "/page", backend: "app/v2:80", rule: "app/h#0", skipped: []string{"Service app/web port 7070"}},
		{name: "GRPCRoute attached to the Waypoint", spec: "brief: Route kinds HTTPRoute and GRPCRoute with Waypoint parents",
			grpcRoutes: []*gwv1.GRPCRoute{func() *gwv1.GRPCRoute {
				r := grpcRoute("g", 0, grule(nil, gbe("v2", 1)))
				r.Spec.ParentRefs = []gwv1.ParentReference{{Name: "wp"}}
				return r
			}()},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v2:80"},
		{name: "cross-namespace backend of a producer GRPCRoute needs a grant naming GRPCRoute", spec: "ReferenceGrantFrom kind GRPCRoute",
			grpcRoutes: []*gwv1.GRPCRoute{grpcRoute("g", 0, grule(nil, func() gwv1.GRPCBackendRef {
				b := gbe("remote", 1)
				b.Namespace = ptr.To[gwv1.Namespace]("other")
				return b
			}()))},
			mutate: func(in *Input) {
				in.ReferenceGrants = []*gwv1.ReferenceGrant{{
					ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "g"},
					Spec: gwv1.ReferenceGrantSpec{
						From: []gwv1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: "app"}},
						To:   []gwv1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
					},
				}}
			},
			method: post, target: "/foo.Bar/Get", headers: grpcHeaders, status: 500, reason: "not permitted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runRouteCase(t, tc) })
	}
}

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc+json": true,
		"application/grpc-web": false, "application/json": false, "": false, "application/grpcx": false,
	} {
		if got := IsGRPC(ct); got != want {
			t.Errorf("IsGRPC(%q) = %v, want %v", ct, got, want)
		}
	}
}
