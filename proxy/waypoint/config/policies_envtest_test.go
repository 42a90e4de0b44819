package config

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/yaml"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/internal/testenv"
	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// TestLoaderAppliesPoliciesWithinASecond: an AuthorizationPolicy created,
// changed or deleted in the API reaches the waypoint's table within a second
// (watch, 100 ms debounce, compile, swap), and the first table already
// holds the policies that exist when the waypoint starts.
func TestLoaderAppliesPoliciesWithinASecond(t *testing.T) {
	env, err := testenv.New()
	cfg := testenv.StartOrSkip(t, env, err)
	kube := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app",
		Labels: map[string]string{mesh.LabelUseWaypoint: "wp"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web, err := kube.CoreV1().Services("app").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webVIP := netip.AddrPortFrom(netip.MustParseAddr(web.Spec.ClusterIP), 80)
	policies := dyn.Resource(policyResource).Namespace("app")
	apply := func(doc string) {
		t.Helper()
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := policies.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "test", Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Present before the waypoint starts: the first table must enforce it.
	apply(`{apiVersion: mesh.wayfabric.io/v1alpha1, kind: AuthorizationPolicy, metadata: {name: no-admin, namespace: app},
		spec: {targetRefs: [{kind: Service, name: web}], action: DENY, rules: [{to: [{operation: {paths: ['/admin']}}]}]}}`)

	var current atomic.Pointer[routing.Table]
	l := &Loader{Waypoint: wp, Kube: kube, Gateway: gwclient.NewForConfigOrDie(cfg), Dynamic: dyn, Apply: current.Store}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	client := identity.MustParse("spiffe://cluster.local/ns/app/sa/client")
	allowed := func(path string) bool {
		d := current.Load().Lookup(webVIP)
		if d == nil {
			return false
		}
		r := authz.L7Request{Host: "web", Method: "GET", Path: path}
		r.Source.Identity, r.Destination = client, webVIP
		return d.Authz.L7(&r).Allowed
	}
	tableWaiter(t, &current, done, 20*time.Second)("first table", func() bool { return current.Load().Lookup(webVIP) != nil })
	if allowed("/admin") || !allowed("/") {
		t.Fatalf("first table: /admin allowed %v, / allowed %v; want the existing DENY policy enforced", allowed("/admin"), allowed("/"))
	}

	within := func(what string, cond func() bool) {
		t.Helper()
		start := time.Now()
		tableWaiter(t, &current, done, 5*time.Second)(what, cond)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s took %v, want within a second", what, took)
		} else {
			t.Logf("%s: %v", what, took)
		}
	}
	apply(`{apiVersion: mesh.wayfabric.io/v1alpha1, kind: AuthorizationPolicy, metadata: {name: only-app, namespace: app},
		spec: {targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp}], rules: [{from: [{source: {namespaces: [ops]}}]}]}}`)
	within("new ALLOW policy denies the client", func() bool { return !allowed("/") })
	apply(`{apiVersion: mesh.wayfabric.io/v1alpha1, kind: AuthorizationPolicy, metadata: {name: only-app, namespace: app},
		spec: {targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp}], rules: [{from: [{source: {namespaces: [app]}}]}]}}`)
	within("changed ALLOW policy allows the client", func() bool { return allowed("/") })
	if err := policies.Delete(ctx, "no-admin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	within("deleted DENY policy stops denying", func() bool { return allowed("/admin") })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
