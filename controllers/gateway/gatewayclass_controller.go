package gateway

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses/status,verbs=get;update;patch

// GatewayClassReconciler accepts every GatewayClass whose controllerName is
// ours and lists the features its Gateways support.
type GatewayClassReconciler struct {
	client.Client
	// GRPCServed: the cluster serves GRPCRoutes, so their features are
	// claimed in status.supportedFeatures.
	GRPCServed bool
}

// Reconcile writes the Accepted condition of one GatewayClass.
func (r *GatewayClassReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gc gatewayv1.GatewayClass
	if err := r.Get(ctx, req.NamespacedName, &gc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if gc.Spec.ControllerName != ControllerName {
		return ctrl.Result{}, nil
	}
	orig := gc.DeepCopy()
	conditions.Set(&gc.Status.Conditions, gatewayClassAccepted(&gc), metav1.Now())
	gc.Status.SupportedFeatures = SupportedFeatures(r.GRPCServed)
	if conditions.Equal(orig.Status.Conditions, gc.Status.Conditions) && equality.Semantic.DeepEqual(orig.Status.SupportedFeatures, gc.Status.SupportedFeatures) {
		return ctrl.Result{}, nil
	}
	if _, err := patchStatus(ctx, r.Client, &gc, orig); err != nil {
		return ctrl.Result{}, fmt.Errorf("writing GatewayClass %s status: %w", gc.Name, err)
	}
	return ctrl.Result{}, nil
}

// gatewayClassAccepted is the Accepted condition of a GatewayClass that names
// our controller. A class with parametersRef is refused: waypoints take their
// settings from the Waypoint API, so a parameters object would be silently
// ignored otherwise.
func gatewayClassAccepted(gc *gatewayv1.GatewayClass) metav1.Condition {
	c := metav1.Condition{
		Type:               string(gatewayv1.GatewayClassConditionStatusAccepted),
		ObservedGeneration: gc.Generation,
	}
	if p := gc.Spec.ParametersRef; p != nil {
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.GatewayClassReasonInvalidParameters)
		c.Message = fmt.Sprintf("parametersRef %s/%s %s is not supported: configure waypoints through the Waypoint resource (mesh.wayfabric.io)", p.Group, p.Kind, p.Name)
		return c
	}
	c.Status = metav1.ConditionTrue
	c.Reason = string(gatewayv1.GatewayClassReasonAccepted)
	c.Message = "Gateways of this class are mirrored to Wayfabric Waypoints"
	return c
}

// SetupWithManager watches GatewayClasses with our controllerName.
func (r *GatewayClassReconciler) SetupWithManager(mgr ctrl.Manager) error {
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		gc, ok := o.(*gatewayv1.GatewayClass)
		return ok && gc.Spec.ControllerName == ControllerName
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&gatewayv1.GatewayClass{}, builder.WithPredicates(ours)).
		Named("gatewayclass").
		Complete(r)
}
