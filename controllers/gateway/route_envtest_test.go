package gateway_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/gateway"
)

var useWaypoint = func(name string) map[string]string {
	return map[string]string{meshv1alpha1.LabelUseWaypoint: name}
}

var _ = Describe("HTTPRoute status", func() {
	const (
		accepted = "Accepted"
		resolved = "ResolvedRefs"
	)
	var ns string

	BeforeEach(func(ctx context.Context) {
		// The namespace sends its Services through Waypoint ns-wp.
		ns = newNamespace(ctx, useWaypoint("ns-wp"))
		create(ctx, newWaypoint(ns, "ns-wp"))
		create(ctx, newWaypoint(ns, "svc-wp"))
		create(ctx, newService(ns, "backend", nil))
	})

	It("accepts a GAMMA route whose Service uses the namespace's waypoint", func(ctx context.Context) {
		create(ctx, newService(ns, "reviews", nil))
		route := newRoute(ns, "r", []gatewayv1.ParentReference{serviceParent("reviews")}, backend("", "backend"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "reviews")).Should(And(
			haveCondition(accepted, metav1.ConditionTrue, "Accepted"),
			haveCondition(resolved, metav1.ConditionTrue, "ResolvedRefs"),
			HaveField("Conditions", HaveEach(HaveField("ObservedGeneration", route.Generation)))))
		stableResourceVersion(ctx, route)
	})

	It("follows the Service's own label, which wins over the namespace", func(ctx context.Context) {
		create(ctx, newService(ns, "ratings", useWaypoint("svc-wp")))
		route := newRoute(ns, "r", []gatewayv1.ParentReference{serviceParent("ratings")}, backend("", "backend"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "ratings")).Should(And(
			haveCondition(accepted, metav1.ConditionTrue, "Accepted"),
			HaveField("Conditions", ContainElement(HaveField("Message", ContainSubstring("svc-wp"))))))
	})

	It("rejects a Service that opts out with none, and re-evaluates when its label changes", func(ctx context.Context) {
		svc := newService(ns, "optout", useWaypoint("none"))
		create(ctx, svc)
		route := newRoute(ns, "r", []gatewayv1.ParentReference{serviceParent("optout")}, backend("", "backend"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "optout")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))

		patch := client.MergeFrom(svc.DeepCopy())
		svc.Labels = useWaypoint("svc-wp")
		Expect(k8s.Patch(ctx, svc, patch)).To(Succeed())
		Eventually(ourParent(ctx, route, "optout")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
	})

	It("rejects a Service in a namespace without a waypoint until the namespace is labelled", func(ctx context.Context) {
		plain := newNamespace(ctx, nil)
		create(ctx, newWaypoint(plain, "late-wp"))
		create(ctx, newService(plain, "web", nil))
		route := newRoute(plain, "r", []gatewayv1.ParentReference{serviceParent("web")})
		create(ctx, route)
		Eventually(ourParent(ctx, route, "web")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))

		n := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: plain}, n)).To(Succeed())
		patch := client.MergeFrom(n.DeepCopy())
		n.Labels = useWaypoint("late-wp")
		Expect(k8s.Patch(ctx, n, patch)).To(Succeed())
		Eventually(ourParent(ctx, route, "web")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
	})

	It("rejects a Service whose waypoint only handles workload traffic, until its spec.for changes", func(ctx context.Context) {
		wl := newWaypoint(ns, "wl-wp")
		wl.Spec.For = meshv1alpha1.TrafficWorkload
		create(ctx, wl)
		create(ctx, newService(ns, "pods-only", useWaypoint("wl-wp")))
		route := newRoute(ns, "r", []gatewayv1.ParentReference{serviceParent("pods-only")})
		create(ctx, route)
		Eventually(ourParent(ctx, route, "pods-only")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))

		patch := client.MergeFrom(wl.DeepCopy())
		wl.Spec.For = meshv1alpha1.TrafficAll
		Expect(k8s.Patch(ctx, wl, patch)).To(Succeed())
		Eventually(ourParent(ctx, route, "pods-only")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
	})

	It("rejects a parentRef port the Service does not have", func(ctx context.Context) {
		create(ctx, newService(ns, "ported", nil))
		parent := serviceParent("ported")
		parent.Port = new(gatewayv1.PortNumber(81))
		route := newRoute(ns, "r", []gatewayv1.ParentReference{parent})
		create(ctx, route)
		Eventually(ourParent(ctx, route, "ported")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))
	})

	It("accepts a Waypoint parent and rejects a missing one", func(ctx context.Context) {
		route := newRoute(ns, "r", []gatewayv1.ParentReference{waypointParent("ns-wp"), waypointParent("nope"), serviceParent("ghost")}, backend("", "backend"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
		Eventually(ourParent(ctx, route, "nope")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))
		Eventually(ourParent(ctx, route, "ghost")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))
	})

	It("reports a missing backend as BackendNotFound until it exists", func(ctx context.Context) {
		route := newRoute(ns, "r", []gatewayv1.ParentReference{waypointParent("ns-wp")}, backend("", "later"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(resolved, metav1.ConditionFalse, "BackendNotFound"))
		create(ctx, newService(ns, "later", nil))
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(resolved, metav1.ConditionTrue, "ResolvedRefs"))
	})

	It("reports an unsupported backend kind as InvalidKind", func(ctx context.Context) {
		ref := backend("", "bucket")
		ref.Group = new(gatewayv1.Group("storage.example.com"))
		ref.Kind = new(gatewayv1.Kind("Bucket"))
		route := newRoute(ns, "r", []gatewayv1.ParentReference{waypointParent("ns-wp")}, ref)
		create(ctx, route)
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(resolved, metav1.ConditionFalse, "InvalidKind"))
	})

	It("needs a ReferenceGrant for a cross-namespace backend, and honours its creation and removal", func(ctx context.Context) {
		other := newNamespace(ctx, nil)
		create(ctx, newService(other, "remote", nil))
		route := newRoute(ns, "r", []gatewayv1.ParentReference{waypointParent("ns-wp")}, backend(other, "remote"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(resolved, metav1.ConditionFalse, "RefNotPermitted"))

		grant := &gatewayv1beta1.ReferenceGrant{
			ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "allow-routes"},
			Spec: gatewayv1beta1.ReferenceGrantSpec{
				From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: gatewayv1.Namespace(ns)}},
				To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
			},
		}
		create(ctx, grant)
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(resolved, metav1.ConditionTrue, "ResolvedRefs"))

		Expect(k8s.Delete(ctx, grant)).To(Succeed())
		Eventually(ourParent(ctx, route, "ns-wp")).Should(haveCondition(resolved, metav1.ConditionFalse, "RefNotPermitted"))
	})

	It("keeps other controllers' parent status and ignores parents that are not ours", func(ctx context.Context) {
		create(ctx, newService(ns, "shared", nil))
		foreignClass := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "foreign-" + ns},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/gateway-controller"}}
		create(ctx, foreignClass)
		foreignGW := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(foreignClass.Name),
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
		create(ctx, foreignGW)

		route := newRoute(ns, "r", []gatewayv1.ParentReference{{Name: "edge"}, serviceParent("shared")}, backend("", "backend"))
		create(ctx, route)
		// Another mesh reports on the same Service parent; the edge controller on its Gateway.
		foreign := []gatewayv1.RouteParentStatus{
			{ParentRef: route.Spec.ParentRefs[1], ControllerName: "example.com/mesh-controller", Conditions: []metav1.Condition{{
				Type: "Accepted", Status: metav1.ConditionFalse, Reason: "Elsewhere", Message: "not mine", LastTransitionTime: metav1.Now()}}},
			{ParentRef: route.Spec.ParentRefs[0], ControllerName: "example.com/gateway-controller", Conditions: []metav1.Condition{{
				Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "edge", LastTransitionTime: metav1.Now()}}},
		}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(route), route)).To(Succeed())
			var keep []gatewayv1.RouteParentStatus
			for _, p := range route.Status.Parents {
				if p.ControllerName == gateway.ControllerName {
					keep = append(keep, p)
				}
			}
			route.Status.Parents = append(foreign, keep...)
			g.Expect(k8s.Status().Update(ctx, route)).To(Succeed())
		}).Should(Succeed())

		// Touch the route so that we reconcile after the foreign write.
		patch := client.MergeFrom(route.DeepCopy())
		route.Labels = map[string]string{"touched": "yes"}
		Expect(k8s.Patch(ctx, route, patch)).To(Succeed())
		Eventually(ourParent(ctx, route, "shared")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
		Consistently(func(g Gomega) []gatewayv1.RouteParentStatus {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(route), route)).To(Succeed())
			return route.Status.Parents
		}, "2s").Should(And(
			ContainElement(And(HaveField("ControllerName", gatewayv1.GatewayController("example.com/mesh-controller")), HaveField("Conditions", ContainElement(HaveField("Reason", "Elsewhere"))))),
			ContainElement(HaveField("ControllerName", gatewayv1.GatewayController("example.com/gateway-controller"))),
			// Exactly one entry of ours: for the Service, none for the foreign Gateway.
			ContainElement(HaveField("ControllerName", gatewayv1.GatewayController(gateway.ControllerName))),
			HaveLen(3)))
	})

	It("applies a Gateway listener's allowedRoutes to routes from other namespaces", func(ctx context.Context) {
		gw := newGateway(ns, "guarded", nil, hboneListener()) // allowedRoutes defaults to Same
		create(ctx, gw)
		outsider := newNamespace(ctx, nil)
		parent := gatewayv1.ParentReference{Name: "guarded", Namespace: new(gatewayv1.Namespace(ns))}
		wrongSection := parent
		wrongSection.SectionName = new(gatewayv1.SectionName("nope"))
		route := newRoute(outsider, "r", []gatewayv1.ParentReference{parent})
		create(ctx, route)
		Eventually(ourParent(ctx, route, "guarded")).Should(haveCondition(accepted, metav1.ConditionFalse, "NotAllowedByListeners"))

		inside := newRoute(ns, "r", []gatewayv1.ParentReference{wrongSection})
		create(ctx, inside)
		Eventually(ourParent(ctx, inside, "guarded")).Should(haveCondition(accepted, metav1.ConditionFalse, "NoMatchingParent"))

		By("admitting the route once the listener allows all namespaces")
		patch := client.MergeFrom(gw.DeepCopy())
		gw.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromAll)}}
		Expect(k8s.Patch(ctx, gw, patch)).To(Succeed())
		Eventually(ourParent(ctx, route, "guarded")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))

		By("following a namespace selector as the route's namespace labels change")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), gw)).To(Succeed())
		patch = client.MergeFrom(gw.DeepCopy())
		gw.Spec.Listeners[0].AllowedRoutes.Namespaces = &gatewayv1.RouteNamespaces{
			From: new(gatewayv1.NamespacesFromSelector), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}
		Expect(k8s.Patch(ctx, gw, patch)).To(Succeed())
		Eventually(ourParent(ctx, route, "guarded")).Should(haveCondition(accepted, metav1.ConditionFalse, "NotAllowedByListeners"))
		n := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: outsider}, n)).To(Succeed())
		nsPatch := client.MergeFrom(n.DeepCopy())
		n.Labels = map[string]string{"team": "a"}
		Expect(k8s.Patch(ctx, n, nsPatch)).To(Succeed())
		Eventually(ourParent(ctx, route, "guarded")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
		Eventually(func(g Gomega) []gatewayv1.ListenerStatus {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), gw)).To(Succeed())
			return gw.Status.Listeners
		}).Should(ConsistOf(HaveField("AttachedRoutes", BeEquivalentTo(1))), "the outsider's route attaches; the inside one names no listener")
	})
})
