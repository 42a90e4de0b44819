package gateway_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/wayfabric/wayfabric/controllers/gateway"
)

func newGRPCRoute(ns, name string, parents []gatewayv1.ParentReference, backends ...gatewayv1.HTTPBackendRef) *gatewayv1.GRPCRoute {
	var refs []gatewayv1.GRPCBackendRef
	for _, b := range backends {
		refs = append(refs, gatewayv1.GRPCBackendRef{BackendRef: b.BackendRef})
	}
	return &gatewayv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parents},
			Rules:           []gatewayv1.GRPCRouteRule{{BackendRefs: refs}},
		},
	}
}

// ourGRPCParent returns our status entry for parent name on a GRPCRoute.
func ourGRPCParent(ctx context.Context, route *gatewayv1.GRPCRoute, name string) func(Gomega) *gatewayv1.RouteParentStatus {
	return func(g Gomega) *gatewayv1.RouteParentStatus {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(route), route)).To(Succeed())
		for i, p := range route.Status.Parents {
			if p.ControllerName == gateway.ControllerName && string(p.ParentRef.Name) == name {
				return &route.Status.Parents[i]
			}
		}
		return nil
	}
}

var _ = Describe("GRPCRoute status", func() {
	const (
		accepted = "Accepted"
		resolved = "ResolvedRefs"
	)
	var ns string
	BeforeEach(func(ctx context.Context) {
		ns = newNamespace(ctx, useWaypoint("ns-wp"))
		create(ctx, newWaypoint(ns, "ns-wp"))
		create(ctx, newService(ns, "backend", nil))
		create(ctx, newService(ns, "echo", nil))
	})

	It("accepts a GAMMA GRPCRoute and resolves its backends", func(ctx context.Context) {
		route := newGRPCRoute(ns, "g", []gatewayv1.ParentReference{serviceParent("echo")}, backend("", "backend"))
		create(ctx, route)
		Eventually(ourGRPCParent(ctx, route, "echo")).Should(And(
			haveCondition(accepted, metav1.ConditionTrue, "Accepted"),
			haveCondition(resolved, metav1.ConditionTrue, "ResolvedRefs"),
			HaveField("Conditions", HaveEach(HaveField("ObservedGeneration", route.Generation)))))
		stableResourceVersion(ctx, route)
	})

	It("reports a missing backend (the weight-0 echo-v3 of the conformance suite) as BackendNotFound", func(ctx context.Context) {
		route := newGRPCRoute(ns, "g", []gatewayv1.ParentReference{serviceParent("echo")}, backend("", "backend"), backend("", "echo-v3"))
		create(ctx, route)
		Eventually(ourGRPCParent(ctx, route, "echo")).Should(And(
			haveCondition(accepted, metav1.ConditionTrue, "Accepted"),
			haveCondition(resolved, metav1.ConditionFalse, "BackendNotFound")))
	})

	It("needs a ReferenceGrant from GRPCRoutes for a producer route's cross-namespace backend", func(ctx context.Context) {
		other := newNamespace(ctx, nil)
		create(ctx, newService(other, "remote", nil))
		route := newGRPCRoute(ns, "g", []gatewayv1.ParentReference{serviceParent("echo")}, backend(other, "remote"))
		create(ctx, route)
		Eventually(ourGRPCParent(ctx, route, "echo")).Should(haveCondition(resolved, metav1.ConditionFalse, "RefNotPermitted"))
		grant := func(kind gatewayv1.Kind, name string) *gatewayv1beta1.ReferenceGrant {
			return &gatewayv1beta1.ReferenceGrant{
				ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: name},
				Spec: gatewayv1beta1.ReferenceGrantSpec{
					From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: kind, Namespace: gatewayv1.Namespace(ns)}},
					To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
				}}
		}
		create(ctx, grant("HTTPRoute", "for-http"))
		Consistently(ourGRPCParent(ctx, route, "echo"), "1s").Should(haveCondition(resolved, metav1.ConditionFalse, "RefNotPermitted"))
		create(ctx, grant("GRPCRoute", "for-grpc"))
		Eventually(ourGRPCParent(ctx, route, "echo")).Should(haveCondition(resolved, metav1.ConditionTrue, "ResolvedRefs"))
	})

	It("makes an HTTPRoute on the same Service port Conflicted, and frees it when deleted", func(ctx context.Context) {
		http := newRoute(ns, "h", []gatewayv1.ParentReference{serviceParent("echo")}, backend("", "backend"))
		create(ctx, http)
		Eventually(ourParent(ctx, http, "echo")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))

		grpc := newGRPCRoute(ns, "g", []gatewayv1.ParentReference{serviceParent("echo")}, backend("", "backend"))
		create(ctx, grpc)
		Eventually(ourParent(ctx, http, "echo")).Should(And(
			haveCondition(accepted, metav1.ConditionFalse, "Conflicted"),
			HaveField("Conditions", ContainElement(HaveField("Message", ContainSubstring(ns+"/g"))))))
		Eventually(ourGRPCParent(ctx, grpc, "echo")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))

		Expect(k8s.Delete(ctx, grpc)).To(Succeed())
		Eventually(ourParent(ctx, http, "echo")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
	})

	It("leaves an HTTPRoute accepted on the ports a GRPCRoute does not bind, and says which it lost", func(ctx context.Context) {
		svc := newService(ns, "twoports", nil)
		svc.Spec.Ports = append(svc.Spec.Ports, svc.Spec.Ports[0])
		svc.Spec.Ports[1].Name, svc.Spec.Ports[1].Port = "grpc", 7070
		create(ctx, svc)
		http := newRoute(ns, "h", []gatewayv1.ParentReference{serviceParent("twoports")}, backend("", "backend"))
		create(ctx, http)
		parent := serviceParent("twoports")
		parent.Port = new(gatewayv1.PortNumber(7070))
		create(ctx, newGRPCRoute(ns, "g", []gatewayv1.ParentReference{parent}, backend("", "backend")))
		Eventually(ourParent(ctx, http, "twoports")).Should(And(
			haveCondition(accepted, metav1.ConditionTrue, "Accepted"),
			HaveField("Conditions", ContainElement(HaveField("Message", ContainSubstring("not on port 7070"))))))
	})

	It("does not let another namespace's consumer GRPCRoute conflict with the producer's HTTPRoute", func(ctx context.Context) {
		http := newRoute(ns, "h", []gatewayv1.ParentReference{serviceParent("echo")}, backend("", "backend"))
		create(ctx, http)
		consumer := newNamespace(ctx, nil)
		parent := serviceParent("echo")
		parent.Namespace = new(gatewayv1.Namespace(ns))
		grpc := newGRPCRoute(consumer, "mine", []gatewayv1.ParentReference{parent}, backend(ns, "backend"))
		create(ctx, grpc)
		Eventually(ourGRPCParent(ctx, grpc, "echo")).Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
		Consistently(ourParent(ctx, http, "echo"), "1s").Should(haveCondition(accepted, metav1.ConditionTrue, "Accepted"))
	})
})

var _ = Describe("Consumer routes", func() {
	It("are accepted for their namespace's clients, and their backends need no ReferenceGrant", func(ctx context.Context) {
		producer := newNamespace(ctx, useWaypoint("wp"))
		create(ctx, newWaypoint(producer, "wp"))
		create(ctx, newService(producer, "echo-v1", nil))
		consumer := newNamespace(ctx, nil)
		parent := serviceParent("echo-v1")
		parent.Namespace = new(gatewayv1.Namespace(producer))
		route := newRoute(consumer, "mesh-echo-add-header", []gatewayv1.ParentReference{parent}, backend(producer, "echo-v1"))
		create(ctx, route)
		Eventually(ourParent(ctx, route, "echo-v1")).Should(And(
			haveCondition("Accepted", metav1.ConditionTrue, "Accepted"),
			haveCondition("ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs"),
			HaveField("Conditions", ContainElement(HaveField("Message", ContainSubstring("for clients in namespace "+consumer+" only"))))))
	})
})

var _ = Describe("GatewayClass features and listener kinds", func() {
	It("lists the supported features, sorted, without Mesh features", func(ctx context.Context) {
		gc := &gatewayv1.GatewayClass{}
		gc.Name = gateway.GatewayClassName
		Eventually(func(g Gomega) []gatewayv1.SupportedFeature {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gc), gc)).To(Succeed())
			return gc.Status.SupportedFeatures
		}).Should(And(
			ContainElements(HaveField("Name", gatewayv1.FeatureName("GRPCRoute")), HaveField("Name", gatewayv1.FeatureName("HTTPRouteCORS")),
				HaveField("Name", gatewayv1.FeatureName("HTTPRoute"))),
			Not(ContainElement(HaveField("Name", gatewayv1.FeatureName("Mesh")))),
			Not(ContainElement(HaveField("Name", gatewayv1.FeatureName("Gateway")))),
			WithTransform(func(fs []gatewayv1.SupportedFeature) bool {
				for i := 1; i < len(fs); i++ {
					if fs[i-1].Name >= fs[i].Name {
						return false
					}
				}
				return true
			}, BeTrue())))
	})

	It("supports HTTPRoute and GRPCRoute on the HBONE listener and counts both as attached", func(ctx context.Context) {
		ns := newNamespace(ctx, nil)
		gw := newGateway(ns, "both", nil, hboneListener())
		create(ctx, gw)
		create(ctx, newRoute(ns, "h", []gatewayv1.ParentReference{{Name: "both"}}))
		create(ctx, newGRPCRoute(ns, "g", []gatewayv1.ParentReference{{Name: "both"}}))
		Eventually(func(g Gomega) []gatewayv1.ListenerStatus {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), gw)).To(Succeed())
			return gw.Status.Listeners
		}).Should(ConsistOf(And(
			HaveField("AttachedRoutes", BeEquivalentTo(2)),
			HaveField("SupportedKinds", ConsistOf(HaveField("Kind", gatewayv1.Kind("HTTPRoute")), HaveField("Kind", gatewayv1.Kind("GRPCRoute")))))))
	})
})
