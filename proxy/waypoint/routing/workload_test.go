package routing

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/authz/authztest"
)

var podDst = netip.MustParseAddrPort("10.1.0.10:8080")

// withPods makes the waypoint serve for, with pod web-1 of Service app/web
// (10.1.0.10, service account web) and any extra pods.
func withPods(for_ string, extra ...Workload) func(*Input) {
	return func(in *Input) {
		in.Waypoint.For = for_
		in.Workloads = append([]Workload{{Namespace: "app", Name: "web-1", ServiceAccount: "web", IPs: []netip.Addr{netip.MustParseAddr("10.1.0.10")}}}, extra...)
		for _, es := range in.EndpointSlices {
			if es.Labels[discoveryv1.LabelServiceName] == "web" {
				es.Endpoints[0].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "web-1"}
			}
		}
	}
}

func endpointIs(want Endpoint) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Backend == nil || len(d.Backend.Backend.Endpoints) != 1 || d.Backend.Backend.Endpoints[0] != want {
			t.Fatalf("backend = %+v, want the one endpoint %+v", d.Backend, want)
		}
	}
}

func TestWorkloadDestinations(t *testing.T) {
	web1 := Endpoint{Addr: podDst, InMesh: true, Namespace: "app", ServiceAccount: "web"}
	cases := []routeCase{
		{name: "for workload: a pod IP is a destination, forwarded to the pod itself", spec: "brief Waypoint spec.for=workload: traffic to pod IPs through the waypoint",
			mutate: withPods(ForWorkload), dst: podDst, target: "/x", backend: "app/web-1:8080", rule: "default#0", path: "/x", check: endpointIs(web1)},
		{name: "for service (the default): pod IPs are not served", spec: "brief Waypoint spec.for=service",
			mutate: withPods(""), dst: podDst, noDestination: true},
		{name: "for workload: Service VIPs are not served", spec: "brief Waypoint spec.for=workload: workload traffic only",
			mutate: withPods(ForWorkload), dst: webVIP, noDestination: true},
		{name: "for all: both", spec: "brief Waypoint spec.for=all",
			mutate: withPods(ForAll), dst: podDst, target: "/", backend: "app/web-1:8080"},
		{name: "for all: Service VIPs still served", spec: "brief Waypoint spec.for=all",
			mutate: withPods(ForAll), target: "/", backend: "app/web:80"},
		{name: "Service routes do not apply to traffic sent to a pod IP", spec: "GEP-1294 Multiple routes for a Service: a request to a Service backend (curl pod-ip) does not use its routes (conformance MeshFrontend)",
			mutate: withPods(ForAll), routes: []*gwv1.HTTPRoute{route("r", 0, withFilters(rule(nil, be("v1", 1)), respHeaders(hv("X-Header-Set", "set"), nil)))},
			dst: podDst, target: "/", backend: "app/web-1:8080", respHeaders: map[string]string{"X-Header-Set": ""}},
		{name: "pod label none opts the pod out", spec: "brief: use-waypoint none opts out; the Pod label wins over the Namespace's",
			mutate: withPods(ForWorkload, Workload{Namespace: "app", Name: "solo", IPs: []netip.Addr{netip.MustParseAddr("10.1.0.99")}, Labels: map[string]string{mesh.LabelUseWaypoint: mesh.UseWaypointNone}}),
			dst:    netip.MustParseAddrPort("10.1.0.99:80"), noDestination: true},
		{name: "pod label naming another waypoint", spec: "brief: the Pod label wins over the Namespace's",
			mutate: withPods(ForWorkload, Workload{Namespace: "app", Name: "solo", IPs: []netip.Addr{netip.MustParseAddr("10.1.0.99")}, Labels: map[string]string{mesh.LabelUseWaypoint: "other-wp"}}),
			dst:    netip.MustParseAddrPort("10.1.0.99:80"), noDestination: true},
		{name: "pods of other namespaces are not served", spec: "brief: a waypoint serves its own namespace",
			mutate: withPods(ForWorkload, Workload{Namespace: "other", Name: "o", IPs: []netip.Addr{netip.MustParseAddr("10.2.0.1")}, Labels: map[string]string{mesh.LabelUseWaypoint: "wp"}}),
			dst:    netip.MustParseAddrPort("10.2.0.1:80"), noDestination: true},
		{name: "a pod without a service account name is default", spec: "Kubernetes: spec.serviceAccountName defaults to default",
			mutate: withPods(ForWorkload, Workload{Namespace: "app", Name: "anon", IPs: []netip.Addr{netip.MustParseAddr("10.1.0.98")}}),
			dst:    netip.MustParseAddrPort("10.1.0.98:9000"), target: "/",
			check: endpointIs(Endpoint{Addr: netip.MustParseAddrPort("10.1.0.98:9000"), InMesh: true, Namespace: "app", ServiceAccount: "default"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runRouteCase(t, tc) })
	}
}

func TestWorkloadPortProtocols(t *testing.T) {
	in := baseInput()
	withPods(ForWorkload)(&in)
	for _, s := range in.Services {
		if s.Name == "web" {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "rpc", Port: 7070, AppProtocol: ptr.To("kubernetes.io/h2c")})
		}
	}
	for _, es := range in.EndpointSlices {
		if es.Labels[discoveryv1.LabelServiceName] == "web" {
			es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To("rpc"), Port: ptr.To[int32](9090)})
		}
	}
	tab := Compile(in)
	for _, tc := range []struct {
		port             uint16
		proto            Protocol
		h2c, followsPeer bool
	}{
		{8080, ProtocolHTTP, false, false}, // Service port "http": HTTP/1.1
		{9090, ProtocolHTTP, true, false},  // appProtocol kubernetes.io/h2c
		{5432, ProtocolSniff, false, true}, // not a Service's target port: sniffed, client's HTTP version
	} {
		d := tab.Lookup(netip.AddrPortFrom(netip.MustParseAddr("10.1.0.10"), tc.port))
		if d == nil || !d.Workload {
			t.Fatalf("port %d: destination %+v, want a workload destination", tc.port, d)
		}
		if d.Protocol != tc.proto || d.Self.H2C != tc.h2c || d.Self.FollowClient != tc.followsPeer {
			t.Errorf("port %d: protocol %v h2c %v followClient %v, want %v %v %v", tc.port, d.Protocol, d.Self.H2C, d.Self.FollowClient, tc.proto, tc.h2c, tc.followsPeer)
		}
		if again := tab.Lookup(netip.AddrPortFrom(netip.MustParseAddr("10.1.0.10"), tc.port)); again != d {
			t.Errorf("port %d: a second lookup built another destination", tc.port)
		}
	}
	if tab.Workloads() != 1 {
		t.Errorf("Workloads() = %d, want 1", tab.Workloads())
	}
}

func TestPodLabelDecidesMeshMembership(t *testing.T) {
	in := baseInput()
	for _, es := range in.EndpointSlices {
		if es.Namespace == "legacy" {
			es.Endpoints[0].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "legacy", Name: "old-1"}
		}
		if es.Labels[discoveryv1.LabelServiceName] == "v1" {
			es.Endpoints[0].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "v1-1"}
		}
	}
	in.Workloads = []Workload{
		{Namespace: "legacy", Name: "old-1", Labels: map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}},
		{Namespace: "app", Name: "v1-1", Labels: map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeNone}},
	}
	idx := newIndex(&in)
	from := referrer{namespace: "legacy", kind: kindHTTPRoute}
	if b := idx.resolve(from, gwv1.BackendObjectReference{Name: "old", Port: ptr.To[int32](80)}); len(b.Endpoints) != 1 || !b.Endpoints[0].InMesh {
		t.Errorf("legacy/old endpoints %+v: the pod's own ambient label should put it in the mesh", b.Endpoints)
	}
	from.namespace = "app"
	if b := idx.resolve(from, gwv1.BackendObjectReference{Name: "v1", Port: ptr.To[int32](80)}); len(b.Endpoints) != 1 || b.Endpoints[0].InMesh {
		t.Errorf("app/v1 endpoints %+v: the pod's own label (not ambient) should take it out of its ambient namespace's mesh", b.Endpoints)
	}
}

// TestWorkloadDestinationPolicies: traffic addressed to a pod is enforced
// with the policies attached to the waypoint; a Service's policies apply to
// traffic addressed to the Service only.
func TestWorkloadDestinationPolicies(t *testing.T) {
	in := baseInput()
	withPods(ForAll)(&in)
	in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authztest.Policy(t, "app", "wp-get-only", `{targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp}], rules: [{to: [{operation: {methods: [GET]}}]}]}`),
		authztest.Policy(t, "app", "web-no-admin", `{targetRefs: [{kind: Service, name: web}], action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}`),
	}
	tab := Compile(in)
	for _, tc := range []struct {
		dst          netip.AddrPort
		method, path string
		want         bool
	}{
		{podDst, "GET", "/admin", true}, // the Service's DENY does not apply to the pod's address
		{podDst, "POST", "/", false},    // the waypoint's ALLOW does
		{webVIP, "GET", "/admin", false},
		{webVIP, "GET", "/", true},
	} {
		d := tab.Lookup(tc.dst)
		if d == nil || d.Authz == nil {
			t.Fatalf("%s: destination %+v without policies", tc.dst, d)
		}
		r := authz.L7Request{Method: tc.method, Path: tc.path, Host: "web"}
		r.Destination = tc.dst
		if got := d.Authz.L7(&r).Allowed; got != tc.want {
			t.Errorf("%s %s to %s: allowed %v, want %v", tc.method, tc.path, tc.dst, got, tc.want)
		}
	}
}
