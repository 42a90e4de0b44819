package routing

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
)

// Test fixtures: namespace "app" uses waypoint app/wp and is in the mesh;
// "other" is in the mesh; "legacy" is not.
var baseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func namespaces() []*corev1.Namespace {
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	return []*corev1.Namespace{
		ns("app", map[string]string{mesh.LabelUseWaypoint: "wp", mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}),
		ns("other", map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}),
		ns("legacy", nil),
	}
}

func service(ns, name, ip string, labels map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		}},
	}
}

func slice(ns, svc string, ready bool, ips ...string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
	}
	for _, ip := range ips {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}})
	}
	return es
}

func baseInput() Input {
	return Input{
		Waypoint:   Waypoint{Namespace: "app", Name: "wp"},
		Namespaces: namespaces(),
		Services: []*corev1.Service{
			service("app", "web", "10.0.0.10", nil),
			service("app", "v1", "10.0.0.11", nil),
			service("app", "v2", "10.0.0.12", nil),
			service("app", "empty", "10.0.0.13", nil),
			service("app", "optout", "10.0.0.14", map[string]string{mesh.LabelUseWaypoint: mesh.UseWaypointNone}),
			service("other", "remote", "10.0.1.1", nil),
			service("legacy", "old", "10.0.2.1", nil),
		},
		EndpointSlices: []*discoveryv1.EndpointSlice{
			slice("app", "web", true, "10.1.0.10"),
			slice("app", "v1", true, "10.1.0.1"),
			slice("app", "v2", true, "10.1.0.2"),
			slice("app", "empty", false, "10.1.0.3"),
			slice("other", "remote", true, "10.2.0.1"),
			slice("legacy", "old", true, "10.3.0.1"),
		},
	}
}

// route builds an HTTPRoute attached to Service app/web, created age seconds after baseTime.
func route(name string, age int, rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	return &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, CreationTimestamp: metav1.NewTime(baseTime.Add(time.Duration(age) * time.Second))},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
			Rules:           rules,
		},
	}
}

func waypointRoute(name string, hostnames []gwv1.Hostname, rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	r := route(name, 0, rules...)
	r.Spec.ParentRefs = []gwv1.ParentReference{{Name: "wp"}}
	r.Spec.Hostnames = hostnames
	return r
}

func rule(matches []gwv1.HTTPRouteMatch, backends ...gwv1.HTTPBackendRef) gwv1.HTTPRouteRule {
	return gwv1.HTTPRouteRule{Matches: matches, BackendRefs: backends}
}

func withFilters(r gwv1.HTTPRouteRule, fs ...gwv1.HTTPRouteFilter) gwv1.HTTPRouteRule {
	r.Filters = fs
	return r
}

func be(name string, weight int32) gwv1.HTTPBackendRef {
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: ptr.To[int32](80)},
		Weight:                 ptr.To(weight),
	}}
}

func beNS(ns, name string) gwv1.HTTPBackendRef {
	b := be(name, 1)
	b.Namespace = ptr.To(gwv1.Namespace(ns))
	return b
}

type matchOpt func(*gwv1.HTTPRouteMatch)

func match(opts ...matchOpt) gwv1.HTTPRouteMatch {
	var m gwv1.HTTPRouteMatch
	for _, o := range opts {
		o(&m)
	}
	return m
}

func matches(ms ...gwv1.HTTPRouteMatch) []gwv1.HTTPRouteMatch { return ms }

func path(t gwv1.PathMatchType, v string) matchOpt {
	return func(m *gwv1.HTTPRouteMatch) { m.Path = &gwv1.HTTPPathMatch{Type: ptr.To(t), Value: ptr.To(v)} }
}
func exact(v string) matchOpt  { return path(gwv1.PathMatchExact, v) }
func prefix(v string) matchOpt { return path(gwv1.PathMatchPathPrefix, v) }
func regex(v string) matchOpt  { return path(gwv1.PathMatchRegularExpression, v) }
func method(v string) matchOpt {
	return func(m *gwv1.HTTPRouteMatch) { m.Method = ptr.To(gwv1.HTTPMethod(v)) }
}
func header(n, v string) matchOpt {
	return func(m *gwv1.HTTPRouteMatch) {
		m.Headers = append(m.Headers, gwv1.HTTPHeaderMatch{Name: gwv1.HTTPHeaderName(n), Value: v})
	}
}
func headerRE(n, v string) matchOpt {
	return func(m *gwv1.HTTPRouteMatch) {
		m.Headers = append(m.Headers, gwv1.HTTPHeaderMatch{Type: ptr.To(gwv1.HeaderMatchRegularExpression), Name: gwv1.HTTPHeaderName(n), Value: v})
	}
}
func query(n, v string) matchOpt {
	return func(m *gwv1.HTTPRouteMatch) {
		m.QueryParams = append(m.QueryParams, gwv1.HTTPQueryParamMatch{Name: gwv1.HTTPHeaderName(n), Value: v})
	}
}
func queryRE(n, v string) matchOpt {
	return func(m *gwv1.HTTPRouteMatch) {
		m.QueryParams = append(m.QueryParams, gwv1.HTTPQueryParamMatch{Type: ptr.To(gwv1.QueryParamMatchRegularExpression), Name: gwv1.HTTPHeaderName(n), Value: v})
	}
}

func reqHeaders(set, add []gwv1.HTTPHeader, remove ...string) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: set, Add: add, Remove: remove}}
}
func respHeaders(set, add []gwv1.HTTPHeader, remove ...string) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Set: set, Add: add, Remove: remove}}
}
func hv(n, v string) []gwv1.HTTPHeader {
	return []gwv1.HTTPHeader{{Name: gwv1.HTTPHeaderName(n), Value: v}}
}

func redirectF(f gwv1.HTTPRequestRedirectFilter) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &f}
}
func rewriteF(f gwv1.HTTPURLRewriteFilter) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterURLRewrite, URLRewrite: &f}
}
func prefixMod(v string) *gwv1.HTTPPathModifier {
	return &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To(v)}
}
func fullMod(v string) *gwv1.HTTPPathModifier {
	return &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr.To(v)}
}
