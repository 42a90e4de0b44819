package config

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

var (
	wp     = routing.Waypoint{Namespace: "app", Name: "wp"}
	webVIP = netip.MustParseAddrPort("10.96.0.10:80")
)

func TestParseStaticFile(t *testing.T) {
	in, err := LoadFile("testdata/static.yaml", wp)
	if err != nil {
		t.Fatal(err)
	}
	tab := routing.Compile(in)
	d := tab.Lookup(webVIP)
	if d == nil || len(tab.Skipped) != 0 {
		t.Fatalf("destination %v, skipped %+v", d, tab.Skipped)
	}
	if dec := d.Decide(httptest.NewRequest("GET", "/v2/x", nil), 0); dec.Backend == nil || dec.Backend.Backend.Label() != "app/v2:80" {
		t.Errorf("/v2/x → %+v, want app/v2:80", dec)
	}
	if dec := d.Decide(httptest.NewRequest("GET", "/", nil), 0); dec.Status != 404 {
		t.Errorf("/ → %d, want 404: the service has routes and none matches", dec.Status)
	}
	// L4 traffic reaches web's pod, whose identity comes from the Pod document.
	if ep := d.Self.Endpoints[0]; ep.ServiceAccount != "web-sa" || !ep.InMesh || ep.Addr != netip.MustParseAddrPort("127.0.0.1:8080") {
		t.Errorf("endpoint = %+v", ep)
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", "no kind"},
		{"broken yaml", "apiVersion: v1\nkind: Service\nmetadata: [\n", "document 0"},
		{"unsupported kind in known group", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "unsupported kind ConfigMap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), wp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestLoaderFollowsTheAPI drives the informer loader with client-go's and
// gateway-api's fake clientsets: tables follow creates, bad routes are
// skipped without blocking good ones, deletes fall back to the default.
func TestLoaderFollowsTheAPI(t *testing.T) {
	kube := kubefake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{mesh.LabelUseWaypoint: "wp"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "app"}, Spec: corev1.ServiceSpec{
			ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "v2", Namespace: "app"}, Spec: corev1.ServiceSpec{
			ClusterIP: "10.96.0.11", ClusterIPs: []string{"10.96.0.11"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "v2-1", Namespace: "app", Labels: map[string]string{discoveryv1.LabelServiceName: "v2"}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.2"}}}},
	)
	// The fake discovery serves what it is told: the Gateway API, here.
	kube.Resources = []*metav1.APIResourceList{
		{GroupVersion: "gateway.networking.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "httproutes"}}},
		{GroupVersion: "gateway.networking.k8s.io/v1beta1", APIResources: []metav1.APIResource{{Name: "referencegrants"}}},
	}
	gw := gwfake.NewSimpleClientset()
	var current atomic.Pointer[routing.Table]
	var applied atomic.Int64
	l := &Loader{Waypoint: wp, Kube: kube, Gateway: gw, Debounce: 20 * time.Millisecond,
		Apply: func(t *routing.Table) { current.Store(t); applied.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	backendFor := func(path string) string {
		tab := current.Load()
		d := tab.Lookup(webVIP)
		if d == nil {
			return "no destination"
		}
		dec := d.Decide(httptest.NewRequest("GET", path, nil), 0)
		if dec.Backend == nil {
			return dec.Reason
		}
		return dec.Backend.Backend.Label()
	}
	eventually := tableWaiter(t, &current, nil, 5*time.Second)
	// No routes: web has no endpoints yet, so the default rule says 503.
	eventually("initial table", func() bool { return strings.Contains(backendFor("/v2"), "no ready endpoints") })

	good := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: "app"}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
		Rules:           []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "v2", Port: ptr.To[int32](80)}}}}}},
	}}
	bad := good.DeepCopy()
	bad.Name = "bad"
	bad.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchRegularExpression), Value: ptr.To("(")}}}
	for _, r := range []*gwv1.HTTPRoute{bad, good} {
		if _, err := gw.GatewayV1().HTTPRoutes("app").Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually("good route applied despite the bad one", func() bool { return backendFor("/x") == "app/v2:80" })
	if s := current.Load().Skipped; len(s) == 0 || s[0].Route.Name != "bad" {
		t.Errorf("skipped = %+v, want the bad route", s)
	}

	if err := gw.GatewayV1().HTTPRoutes("app").Delete(ctx, "good", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("route removal", func() bool { return backendFor("/x") != "app/v2:80" })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// tableWaiter returns eventually(what, cond): it waits up to timeout for a
// table to be applied to current and cond to hold, and fails the test
// otherwise. With a non-nil done (the loader's Run result) it fails at once
// if Run ends first.
func tableWaiter(t *testing.T, current *atomic.Pointer[routing.Table], done <-chan error, timeout time.Duration) func(what string, cond func() bool) {
	return func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for current.Load() == nil || !cond() {
			select {
			case err := <-done: // a nil done never fires
				t.Fatalf("Run ended while waiting for %s: %v", what, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestParseStaticPolicies: a static configuration carries AuthorizationPolicies
// (benchmarks and clusterless runs enforce them like the API loader does).
func TestParseStaticPolicies(t *testing.T) {
	in, err := Parse([]byte(`
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {mesh.wayfabric.io/use-waypoint: wp}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec: {clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10], ports: [{name: http, port: 80}]}
---
apiVersion: mesh.wayfabric.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: app}
spec:
  targetRefs: [{kind: Service, name: web}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
`), wp)
	if err != nil {
		t.Fatal(err)
	}
	tab := routing.Compile(in)
	if p := tab.Policies.Lookup("app", "get-only"); p == nil || p.Err != nil {
		t.Fatalf("policy not compiled: %+v", p)
	}
	d := tab.Lookup(webVIP)
	for method, want := range map[string]bool{"GET": true, "POST": false} {
		r := authz.L7Request{Method: method, Path: "/", Host: "web"}
		r.Destination = webVIP
		if got := d.Authz.L7(&r).Allowed; got != want {
			t.Errorf("%s allowed = %v, want %v", method, got, want)
		}
	}
}

// TestLoaderWatchesGRPCRoutesAndPods: GRPCRoutes are watched when the API
// serves them, and Pods feed workload destinations (spec.for all) with their
// addresses and labels, as they change.
func TestLoaderWatchesGRPCRoutesAndPods(t *testing.T) {
	kube := kubefake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{mesh.LabelUseWaypoint: "wp"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "app"}, Spec: corev1.ServiceSpec{
			ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}, Ports: []corev1.ServicePort{{Name: "grpc", Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "v2", Namespace: "app"}, Spec: corev1.ServiceSpec{
			ClusterIP: "10.96.0.11", ClusterIPs: []string{"10.96.0.11"}, Ports: []corev1.ServicePort{{Name: "grpc", Port: 80}}}},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "v2-1", Namespace: "app", Labels: map[string]string{discoveryv1.LabelServiceName: "v2"}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr.To("grpc"), Port: ptr.To[int32](7070)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.2"}}}},
	)
	kube.Resources = []*metav1.APIResourceList{
		{GroupVersion: "gateway.networking.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "httproutes"}, {Name: "grpcroutes"}}},
		{GroupVersion: "gateway.networking.k8s.io/v1beta1", APIResources: []metav1.APIResource{{Name: "referencegrants"}}},
	}
	gw := gwfake.NewSimpleClientset()
	var current atomic.Pointer[routing.Table]
	all := routing.Waypoint{Namespace: "app", Name: "wp", For: routing.ForAll}
	l := &Loader{Waypoint: all, Kube: kube, Gateway: gw, Debounce: 20 * time.Millisecond, Apply: func(t *routing.Table) { current.Store(t) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	eventually := tableWaiter(t, &current, done, 5*time.Second)

	grpcBackend := func() string {
		d := current.Load().Lookup(webVIP)
		if d == nil {
			return "no destination"
		}
		r := httptest.NewRequest("POST", "/foo.Bar/Get", nil)
		r.Header.Set("Content-Type", "application/grpc")
		if dec := d.Decide(r, 0); dec.Backend != nil {
			return dec.Backend.Backend.Label()
		}
		return "no backend"
	}
	eventually("initial table", func() bool { return grpcBackend() != "no destination" })
	route := &gwv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: "app"}, Spec: gwv1.GRPCRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
		Rules: []gwv1.GRPCRouteRule{{
			Matches:     []gwv1.GRPCRouteMatch{{Method: &gwv1.GRPCMethodMatch{Service: ptr.To("foo.Bar")}}},
			BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "v2", Port: ptr.To[int32](80)}}}},
		}},
	}}
	if _, err := gw.GatewayV1().GRPCRoutes("app").Create(ctx, route, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("GRPCRoute applied", func() bool { return grpcBackend() == "app/v2:80" })

	podIP := netip.MustParseAddrPort("10.1.0.9:8080")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app"}, Spec: corev1.PodSpec{ServiceAccountName: "p-sa"},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.1.0.9"}}}}
	if _, err := kube.CoreV1().Pods("app").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("pod served by address", func() bool {
		d := current.Load().Lookup(podIP)
		return d != nil && d.Workload && d.Self.Endpoints[0].ServiceAccount == "p-sa"
	})
	pod.Labels = map[string]string{mesh.LabelUseWaypoint: mesh.UseWaypointNone}
	if _, err := kube.CoreV1().Pods("app").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("pod opted out by its label", func() bool { return current.Load().Lookup(podIP) == nil })
}

func TestSlimPodKeepsWhatRoutingReads(t *testing.T) {
	full := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app", Labels: map[string]string{
			mesh.LabelUseWaypoint: "wp", mesh.LabelDataplaneMode: "ambient", "app": "web", "pod-template-hash": "abc"},
			Annotations: map[string]string{"big": strings.Repeat("x", 1000)}},
		Spec:   corev1.PodSpec{ServiceAccountName: "sa", HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.1.0.9"}, {IP: "fd00::9"}}, Phase: corev1.PodRunning},
	}
	obj, err := slimPod(full)
	if err != nil {
		t.Fatal(err)
	}
	p := obj.(*corev1.Pod)
	if len(p.Labels) != 2 || p.Labels[mesh.LabelUseWaypoint] != "wp" || p.Annotations != nil || len(p.Spec.Containers) != 0 ||
		p.Spec.ServiceAccountName != "sa" || !p.Spec.HostNetwork || len(p.Status.PodIPs) != 2 || p.Status.Phase != "" {
		t.Errorf("slim pod = %+v", p)
	}
	if w := workloadOf(p); len(w.IPs) != 0 {
		t.Errorf("a host-network pod has the node's address, never a workload destination: %+v", w)
	}
	p.Spec.HostNetwork = false
	if w := workloadOf(p); len(w.IPs) != 2 || w.ServiceAccount != "sa" {
		t.Errorf("workload = %+v", w)
	}
}

func TestParseReadsGRPCRoutesAndPodAddresses(t *testing.T) {
	doc := `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: app}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules: [{backendRefs: [{name: v2, port: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: app, labels: {mesh.wayfabric.io/use-waypoint: wp}}
spec: {serviceAccountName: p-sa, containers: [{name: c, image: x}]}
status: {podIPs: [{ip: 10.1.0.9}]}
`
	in, err := Parse([]byte(doc), wp)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.GRPCRoutes) != 1 || in.GRPCRoutes[0].Name != "g" {
		t.Errorf("GRPCRoutes = %+v", in.GRPCRoutes)
	}
	if len(in.Workloads) != 1 || in.Workloads[0].ServiceAccount != "p-sa" || len(in.Workloads[0].IPs) != 1 || in.Workloads[0].Labels[mesh.LabelUseWaypoint] != "wp" {
		t.Errorf("Workloads = %+v", in.Workloads)
	}
}
