package config

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/internal/testenv"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// TestLoaderAgainstAPIServer runs the loader against a real kube-apiserver
// (envtest) with the Gateway API CRDs: the first table appears once caches
// sync, follows endpoint and route changes, and a route the CRD accepts but
// the waypoint cannot compile is skipped without hiding the others.
func TestLoaderAgainstAPIServer(t *testing.T) {
	env, err := testenv.New()
	cfg := testenv.StartOrSkip(t, env, err)
	kube := kubernetes.NewForConfigOrDie(cfg)
	gw := gwclient.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app",
		Labels: map[string]string{mesh.LabelUseWaypoint: "wp", mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}}}, metav1.CreateOptions{}))
	svc := func(name string) *corev1.Service {
		s, err := kube.CoreV1().Services("app").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	web := svc("web")
	svc("v2")
	webVIP := netip.AddrPortFrom(netip.MustParseAddr(web.Spec.ClusterIP), 80)
	must(kube.CoreV1().Pods("app").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "v2-0"},
		Spec: corev1.PodSpec{ServiceAccountName: "v2-sa", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}, metav1.CreateOptions{}))
	must(kube.DiscoveryV1().EndpointSlices("app").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "v2-1", Labels: map[string]string{discoveryv1.LabelServiceName: "v2"}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.2"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "v2-0"}}},
	}, metav1.CreateOptions{}))

	var current atomic.Pointer[routing.Table]
	l := &Loader{Waypoint: wp, Kube: kube, Gateway: gw, Debounce: 20 * time.Millisecond, Apply: current.Store}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	decide := func(path string) routing.Decision {
		d := current.Load().Lookup(webVIP)
		if d == nil {
			return routing.Decision{Reason: "no destination"}
		}
		return d.Decide(httptest.NewRequest("GET", path, nil), 0)
	}
	eventually := tableWaiter(t, &current, nil, 20*time.Second)
	eventually("first table: web has no endpoints → 503", func() bool { return decide("/").Status == 503 })

	route := func(name string, m []gwv1.HTTPRouteMatch) *gwv1.HTTPRoute {
		return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app"}, Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
			Rules:           []gwv1.HTTPRouteRule{{Matches: m, BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "v2", Port: ptr.To[int32](80)}}}}}},
		}}
	}
	badRegex := []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchRegularExpression), Value: ptr.To("/(unclosed")}}}
	must(gw.GatewayV1().HTTPRoutes("app").Create(ctx, route("bad", badRegex), metav1.CreateOptions{}))
	must(gw.GatewayV1().HTTPRoutes("app").Create(ctx, route("good", nil), metav1.CreateOptions{}))
	eventually("good route to v2", func() bool {
		dec := decide("/x")
		return dec.Backend != nil && dec.Backend.Backend.Label() == "app/v2:80"
	})
	if ep := decide("/x").Backend.Backend.Endpoints[0]; ep.ServiceAccount != "v2-sa" || !ep.InMesh {
		t.Errorf("endpoint %+v: want in-mesh with the Pod's service account", ep)
	}
	if s := current.Load().Skipped; len(s) == 0 || s[0].Route.Name != "bad" {
		t.Errorf("skipped = %+v, want the bad route", s)
	}

	// Endpoint changes reach the table.
	if err := kube.DiscoveryV1().EndpointSlices("app").Delete(ctx, "v2-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("v2 endpoints gone → 503", func() bool { return decide("/x").Status == 503 })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestLoaderWaitsForTheGatewayAPI starts the loader on an API server without
// the Gateway API CRDs: it still publishes tables (Services, no routes), and
// applies HTTPRoutes once the CRDs are installed, without a restart.
func TestLoaderWaitsForTheGatewayAPI(t *testing.T) {
	env, gatewayCRDs, err := testenv.NewWithoutGatewayAPI()
	cfg := testenv.StartOrSkip(t, env, err)
	kube := kubernetes.NewForConfigOrDie(cfg)
	gw := gwclient.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app",
		Labels: map[string]string{mesh.LabelUseWaypoint: "wp", mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var vips []netip.AddrPort
	for _, name := range []string{"web", "v2"} {
		s, err := kube.CoreV1().Services("app").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vips = append(vips, netip.AddrPortFrom(netip.MustParseAddr(s.Spec.ClusterIP), 80))
		if _, err := kube.DiscoveryV1().EndpointSlices("app").Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.1.0.%d", len(vips))}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	var current atomic.Pointer[routing.Table]
	l := &Loader{Waypoint: wp, Kube: kube, Gateway: gw, Debounce: 20 * time.Millisecond, GatewayAPIPoll: 100 * time.Millisecond, Apply: current.Store}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	backendOf := func(path string) string {
		d := current.Load().Lookup(vips[0])
		if d == nil {
			return "no destination"
		}
		if dec := d.Decide(httptest.NewRequest("GET", path, nil), 0); dec.Backend != nil {
			return dec.Backend.Backend.Label()
		}
		return "no backend"
	}
	eventually := tableWaiter(t, &current, done, 30*time.Second)
	eventually("a table without the Gateway API: web routes to itself", func() bool { return backendOf("/") == "app/web:80" })

	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{gatewayCRDs}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "to-v2", Namespace: "app"}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
		Rules:           []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "v2", Port: ptr.To[int32](80)}}}}}},
	}}
	if _, err := gw.GatewayV1().HTTPRoutes("app").Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the HTTPRoute applied once the CRDs exist", func() bool { return backendOf("/") == "app/v2:80" })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
