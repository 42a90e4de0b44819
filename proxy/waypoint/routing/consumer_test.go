package routing

import (
	"net/netip"
	"testing"

	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// consumerRoute builds an HTTPRoute in namespace ns whose parent is Service
// app/web: a consumer route when ns is not "app".
func consumerRoute(ns, name string, age int, rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	r := route(name, age, rules...)
	r.Namespace = ns
	r.Spec.ParentRefs[0].Namespace = ptr.To[gwv1.Namespace]("app")
	return r
}

func TestConsumerRoutes(t *testing.T) {
	setHeader := respHeaders(hv("X-Header-Set", "set"), nil)
	consumer := consumerRoute("client", "mine", 0, withFilters(rule(nil, beNS("app", "v2")), setHeader))
	producer := route("theirs", 0, rule(nil, be("v1", 1)))
	cases := []routeCase{
		{name: "a consumer route applies to clients of its namespace", spec: "ParentReference.Namespace: consumer routes apply to connections originating from the Route's namespace (GEP-1294)",
			routes: []*gwv1.HTTPRoute{consumer}, client: "client", target: "/",
			backend: "app/v2:80", rule: "client/mine#0", respHeaders: map[string]string{"X-Header-Set": "set"}},
		{name: "clients of the Service's namespace do not see it", spec: "GEP-1294: consumer routes are scoped to the same namespace (conformance MeshConsumerRoute)",
			routes: []*gwv1.HTTPRoute{consumer}, client: "app", target: "/",
			backend: "app/web:80", rule: "default#0", respHeaders: map[string]string{"X-Header-Set": ""}},
		{name: "clients of unrelated namespaces do not see it", spec: "GEP-1294: another unrelated namespace cannot modify traffic between two namespaces",
			routes: []*gwv1.HTTPRoute{consumer, producer}, client: "other", target: "/", backend: "app/v1:80", rule: "app/theirs#0"},
		{name: "a client of unknown namespace gets the producer routes", spec: "GEP-1294: requests from other namespaces use the producer routes",
			routes: []*gwv1.HTTPRoute{consumer, producer}, client: "", target: "/", backend: "app/v1:80"},
		{name: "consumer routes replace the producer routes for their namespace", spec: "GEP-1294 Multiple routes for a Service: a namespace with consumer routes uses those",
			routes: []*gwv1.HTTPRoute{producer, consumer}, client: "client", target: "/", backend: "app/v2:80", rule: "client/mine#0"},
		{name: "no fallback to producer routes when no consumer rule matches", spec: "GEP-1294: merging occurs only within routes of the same type (consumer or producer)",
			routes: []*gwv1.HTTPRoute{producer, consumerRoute("client", "narrow", 0, rule(matches(match(prefix("/only"))), beNS("app", "v2")))},
			client: "client", target: "/elsewhere", status: 404},
		{name: "consumer routes of one namespace merge by precedence", spec: "HTTPRouteRule precedence across routes of one group",
			routes: []*gwv1.HTTPRoute{
				consumerRoute("client", "broad", 0, rule(nil, beNS("app", "v1"))),
				consumerRoute("client", "deep", 5, rule(matches(match(prefix("/api"))), beNS("app", "v2"))),
			},
			client: "client", target: "/api/x", backend: "app/v2:80", rule: "client/deep#0"},
		{name: "the parentRef port limits a consumer route", spec: "GEP-1294 Ports: parentRef.port binds that port only",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := consumerRoute("client", "p", 0, rule(nil, beNS("app", "v2")))
				r.Spec.ParentRefs[0].Port = ptr.To[int32](8080)
				return r
			}()},
			client: "client", target: "/", backend: "app/web:80", rule: "default#0"},
		{name: "backends in a third namespace need no ReferenceGrant", spec: "GEP-1294 Namespace boundaries: consumer and producer routes may reach backendRefs in any namespace without a ReferenceGrant",
			routes: []*gwv1.HTTPRoute{consumerRoute("client", "far", 0, rule(nil, beNS("other", "remote")))},
			client: "client", target: "/", backend: "other/remote:80"},
		{name: "a route that is also a producer route elsewhere needs grants", spec: "Wayfabric: only routes whose every parent is a consumer parent skip ReferenceGrant",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := consumerRoute("client", "both", 0, rule(nil, beNS("other", "remote")))
				r.Spec.ParentRefs = append(r.Spec.ParentRefs, gwv1.ParentReference{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "local"})
				return r
			}()},
			client: "client", target: "/", status: 500, reason: "not permitted"},
		{name: "a consumer route for a Service of another waypoint configures nothing here", spec: "brief: a waypoint serves the Services of its namespace that use it",
			routes: []*gwv1.HTTPRoute{func() *gwv1.HTTPRoute {
				r := consumerRoute("client", "x", 0, rule(nil, beNS("other", "remote")))
				r.Spec.ParentRefs[0].Namespace, r.Spec.ParentRefs[0].Name = ptr.To[gwv1.Namespace]("other"), "remote"
				return r
			}()},
			client: "client", dst: netip.MustParseAddrPort("10.0.1.1:80"), noDestination: true},
		{name: "consumer GRPCRoutes work as consumer HTTPRoutes do", spec: "GEP-1294: all route types bind to a Service parent",
			grpcRoutes: []*gwv1.GRPCRoute{func() *gwv1.GRPCRoute {
				r := grpcRoute("g", 0, grule(nil, func() gwv1.GRPCBackendRef { b := gbe("v2", 1); b.Namespace = ptr.To[gwv1.Namespace]("app"); return b }()))
				r.Namespace = "client"
				r.Spec.ParentRefs[0].Namespace = ptr.To[gwv1.Namespace]("app")
				return r
			}()},
			client: "client", method: "POST", target: "/foo.Bar/Get", headers: grpcHeaders, backend: "app/v2:80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runRouteCase(t, tc) })
	}
}
