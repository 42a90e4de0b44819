package gateway_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/gateway"
)

var _ = Describe("GatewayClass", func() {
	It("accepts our class with observedGeneration and leaves other controllers' classes alone", func(ctx context.Context) {
		gc := &gatewayv1.GatewayClass{}
		gc.Name = gateway.GatewayClassName
		Eventually(condition(ctx, gc, "Accepted", func() []metav1.Condition { return gc.Status.Conditions })).
			Should(beCondition(metav1.ConditionTrue, "Accepted"))
		Expect(meta.FindStatusCondition(gc.Status.Conditions, "Accepted").ObservedGeneration).To(Equal(gc.Generation))

		other := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/gateway-controller"}}
		create(ctx, other)
		Consistently(condition(ctx, other, "Accepted", func() []metav1.Condition { return other.Status.Conditions }), "2s").
			Should(beCondition(metav1.ConditionUnknown, "Pending"))
	})
})

var _ = Describe("GatewayClass with parameters", func() {
	It("is refused, and so are its Gateways", func(ctx context.Context) {
		gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "wayfabric-with-params"}, Spec: gatewayv1.GatewayClassSpec{
			ControllerName: gateway.ControllerName,
			ParametersRef:  &gatewayv1.ParametersReference{Group: "", Kind: "ConfigMap", Name: "x", Namespace: new(gatewayv1.Namespace("default"))}}}
		create(ctx, gc)
		Eventually(condition(ctx, gc, "Accepted", func() []metav1.Condition { return gc.Status.Conditions })).
			Should(beCondition(metav1.ConditionFalse, "InvalidParameters"))

		ns := newNamespace(ctx, nil)
		gw := newGateway(ns, "wp", nil, hboneListener())
		gw.Spec.GatewayClassName = gatewayv1.ObjectName(gc.Name)
		create(ctx, gw)
		Eventually(condition(ctx, gw, "Accepted", func() []metav1.Condition { return gw.Status.Conditions })).
			Should(And(beCondition(metav1.ConditionFalse, "Invalid"), HaveField("Message", ContainSubstring(gc.Name))))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), &meshv1alpha1.Waypoint{})).NotTo(Succeed())
	})
})

var _ = Describe("Gateway", func() {
	It("is mirrored to a Waypoint it owns, and its status follows the Waypoint", func(ctx context.Context) {
		ns := newNamespace(ctx, nil)
		http := gatewayv1.Listener{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}
		gw := newGateway(ns, "waypoint", map[string]string{gateway.LabelWaypointFor: "all"}, hboneListener(), http)
		create(ctx, gw)

		By("creating the Waypoint, controlled by the Gateway")
		wp := &meshv1alpha1.Waypoint{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), wp)).To(Succeed())
			ref := metav1.GetControllerOf(wp)
			g.Expect(ref).NotTo(BeNil())
			g.Expect(ref.UID).To(Equal(gw.UID))
			g.Expect(ref.Kind).To(Equal("Gateway"))
			g.Expect(wp.Spec.For).To(Equal(meshv1alpha1.TrafficAll))
		}).Should(Succeed())

		By("recording an event on the Gateway")
		Eventually(func(g Gomega) []eventsv1.Event {
			var list eventsv1.EventList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			return list.Items
		}).Should(ContainElement(And(HaveField("Reason", "WaypointCreated"), HaveField("Regarding.Name", "waypoint"),
			HaveField("Regarding.Kind", "Gateway"), HaveField("Type", corev1.EventTypeNormal))))

		By("accepting the Gateway while flagging the HTTP listener")
		conds := func() []metav1.Condition { return gw.Status.Conditions }
		Eventually(condition(ctx, gw, "Accepted", conds)).Should(And(
			beCondition(metav1.ConditionTrue, "ListenersNotValid"), HaveField("ObservedGeneration", gw.Generation)))
		Expect(gw.Status.Listeners).To(HaveLen(2))
		Expect(meta.FindStatusCondition(gw.Status.Listeners[0].Conditions, "Accepted")).To(beCondition(metav1.ConditionTrue, "Accepted"))
		Expect(meta.FindStatusCondition(gw.Status.Listeners[1].Conditions, "Accepted")).To(beCondition(metav1.ConditionFalse, "UnsupportedProtocol"))
		Expect(gw.Status.Addresses).To(BeEmpty(), "no waypoint Service exists yet")

		By("reporting Pending with the Waypoint's message while it is not ready")
		setReady(ctx, wp, metav1.ConditionFalse, "0/1 replicas ready")
		Eventually(condition(ctx, gw, "Programmed", conds)).Should(And(
			beCondition(metav1.ConditionFalse, "Pending"), HaveField("Message", ContainSubstring("0/1 replicas ready"))))

		By("becoming Programmed with the Service's ClusterIP once the Waypoint is ready")
		create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "waypoint"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "hbone", Port: 15008}}}})
		setReady(ctx, wp, metav1.ConditionTrue, "1/1 replicas ready")
		Eventually(condition(ctx, gw, "Programmed", conds)).Should(beCondition(metav1.ConditionTrue, "Programmed"))
		var svc corev1.Service
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), &svc)).To(Succeed())
		Eventually(func(g Gomega) []gatewayv1.GatewayStatusAddress {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), gw)).To(Succeed())
			return gw.Status.Addresses
		}).Should(ConsistOf(HaveField("Value", svc.Spec.ClusterIP)))

		By("writing nothing once settled")
		stableResourceVersion(ctx, gw)
		stableResourceVersion(ctx, wp)

		By("following a change of the waypoint-for label")
		patch := client.MergeFrom(gw.DeepCopy())
		gw.Labels[gateway.LabelWaypointFor] = "workload"
		Expect(k8s.Patch(ctx, gw, patch)).To(Succeed())
		Eventually(func(g Gomega) meshv1alpha1.TrafficType {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(wp), wp)).To(Succeed())
			return wp.Spec.For
		}).Should(Equal(meshv1alpha1.TrafficWorkload))
	})

	It("never adopts or overwrites a Waypoint it does not own", func(ctx context.Context) {
		ns := newNamespace(ctx, nil)
		foreign := newWaypoint(ns, "taken")
		foreign.Spec.For = meshv1alpha1.TrafficWorkload
		create(ctx, foreign)
		before := foreign.ResourceVersion

		gw := newGateway(ns, "taken", nil, hboneListener())
		create(ctx, gw)
		conds := func() []metav1.Condition { return gw.Status.Conditions }
		Eventually(condition(ctx, gw, "Accepted", conds)).Should(And(
			beCondition(metav1.ConditionFalse, "Invalid"), HaveField("Message", ContainSubstring("not managed by this Gateway"))))
		Expect(meta.FindStatusCondition(gw.Status.Conditions, "Programmed")).To(beCondition(metav1.ConditionFalse, "Invalid"))

		Consistently(func(g Gomega) string {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
			return foreign.ResourceVersion
		}, "2s").Should(Equal(before))
		Expect(foreign.OwnerReferences).To(BeEmpty())
		Expect(foreign.Spec.For).To(Equal(meshv1alpha1.TrafficWorkload))

		By("taking over the name once the foreign Waypoint is gone")
		Expect(k8s.Delete(ctx, foreign)).To(Succeed())
		Eventually(condition(ctx, gw, "Accepted", conds)).Should(beCondition(metav1.ConditionTrue, "Accepted"))
		wp := &meshv1alpha1.Waypoint{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), wp)).To(Succeed())
			g.Expect(metav1.IsControlledBy(wp, gw)).To(BeTrue())
		}).Should(Succeed())
	})

	It("rejects a Gateway without an HBONE listener and creates no Waypoint", func(ctx context.Context) {
		ns := newNamespace(ctx, nil)
		gw := newGateway(ns, "http-only", nil, gatewayv1.Listener{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType})
		create(ctx, gw)
		Eventually(condition(ctx, gw, "Accepted", func() []metav1.Condition { return gw.Status.Conditions })).
			Should(beCondition(metav1.ConditionFalse, "ListenersNotValid"))
		Consistently(func() error {
			return k8s.Get(ctx, client.ObjectKeyFromObject(gw), &meshv1alpha1.Waypoint{})
		}, "1s").ShouldNot(Succeed())
	})

	It("counts attached routes per listener", func(ctx context.Context) {
		ns := newNamespace(ctx, nil)
		gw := newGateway(ns, "counted", nil, hboneListener())
		create(ctx, gw)
		create(ctx, newRoute(ns, "via-gateway", []gatewayv1.ParentReference{{Name: "counted"}}))
		create(ctx, newRoute(ns, "via-waypoint", []gatewayv1.ParentReference{waypointParent("counted")}))
		Eventually(func(g Gomega) []gatewayv1.ListenerStatus {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), gw)).To(Succeed())
			return gw.Status.Listeners
		}).Should(ConsistOf(HaveField("AttachedRoutes", BeEquivalentTo(2))))
	})
})

// setReady plays the Waypoint controller: it writes the Ready condition.
func setReady(ctx context.Context, wp *meshv1alpha1.Waypoint, status metav1.ConditionStatus, msg string) {
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(wp), wp)).To(Succeed())
		meta.SetStatusCondition(&wp.Status.Conditions, metav1.Condition{Type: meshv1alpha1.ConditionReady, Status: status,
			Reason: "Test", Message: msg, ObservedGeneration: wp.Generation})
		g.Expect(k8s.Status().Update(ctx, wp)).To(Succeed())
	}).Should(Succeed())
}

// stableResourceVersion checks that nothing rewrites obj while nothing changes.
func stableResourceVersion(ctx context.Context, obj client.Object) {
	GinkgoHelper()
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	rv := obj.GetResourceVersion()
	Consistently(func(g Gomega) string {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		return obj.GetResourceVersion()
	}, "2s", "200ms").Should(Equal(rv))
}
