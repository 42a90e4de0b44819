package gateway_test

import (
	"context"
	"fmt"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/gateway"
)

var nsCounter atomic.Int32

// newNamespace creates a fresh namespace (envtest never deletes them).
func newNamespace(ctx context.Context, labels map[string]string) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gw-test-%d", nsCounter.Add(1)), Labels: labels}}
	ExpectWithOffset(1, k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func create(ctx context.Context, obj client.Object) {
	ExpectWithOffset(1, k8s.Create(ctx, obj)).To(Succeed())
}

// ensureClass creates our GatewayClass once.
func ensureClass(ctx context.Context) {
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gateway.GatewayClassName},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: gateway.ControllerName}}
	ExpectWithOffset(1, client.IgnoreAlreadyExists(k8s.Create(ctx, gc))).To(Succeed())
}

func hboneListener() gatewayv1.Listener {
	return gatewayv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE"}
}

func newGateway(ns, name string, labels map[string]string, listeners ...gatewayv1.Listener) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: gateway.GatewayClassName, Listeners: listeners},
	}
}

func newService(ns, name string, labels map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 9080}}},
	}
}

func newWaypoint(ns, name string) *meshv1alpha1.Waypoint {
	return &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func serviceParent(name string) gatewayv1.ParentReference {
	return gatewayv1.ParentReference{Group: new(gatewayv1.Group("")), Kind: new(gatewayv1.Kind("Service")), Name: gatewayv1.ObjectName(name)}
}

func waypointParent(name string) gatewayv1.ParentReference {
	return gatewayv1.ParentReference{Group: new(gatewayv1.Group("mesh.wayfabric.io")), Kind: new(gatewayv1.Kind("Waypoint")), Name: gatewayv1.ObjectName(name)}
}

func backend(ns, name string) gatewayv1.HTTPBackendRef {
	ref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(name), Port: new(gatewayv1.PortNumber(9080))}}}
	if ns != "" {
		ref.Namespace = new(gatewayv1.Namespace(ns))
	}
	return ref
}

func newRoute(ns, name string, parents []gatewayv1.ParentReference, backends ...gatewayv1.HTTPBackendRef) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parents},
			Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: backends}},
		},
	}
}

// condition fetches obj and returns the condition of type t found by get.
func condition(ctx context.Context, obj client.Object, t string, get func() []metav1.Condition) func(Gomega) *metav1.Condition {
	return func(g Gomega) *metav1.Condition {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		return meta.FindStatusCondition(get(), t)
	}
}

// ourParent returns our status entry for parent name on route, or nil.
func ourParent(ctx context.Context, route *gatewayv1.HTTPRoute, name string) func(Gomega) *gatewayv1.RouteParentStatus {
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

// haveCondition matches a RouteParentStatus (or nil) by one condition.
func haveCondition(t string, status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Conditions", ContainElement(And(
		HaveField("Type", t), HaveField("Status", status), HaveField("Reason", reason)))))
}

// beCondition matches a *metav1.Condition.
func beCondition(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

var _ = BeforeEach(func(ctx context.Context) { ensureClass(ctx) })
