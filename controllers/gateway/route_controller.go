package gateway

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=referencegrants,verbs=get;list;watch

// HTTPRouteReconciler writes per-parent status (Accepted, ResolvedRefs) on
// HTTPRoutes whose parents are waypoint-served Services (GAMMA), Waypoints,
// or Gateways of our classes.
type HTTPRouteReconciler struct {
	client.Client
	Events events.Recorder
}

// Reconcile recomputes our entries in one HTTPRoute's status.parents.
func (r *HTTPRouteReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var route gatewayv1.HTTPRoute
	if err := r.Get(ctx, req.NamespacedName, &route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var want []gatewayv1.RouteParentStatus
	var resolved *metav1.Condition
	for _, ref := range route.Spec.ParentRefs {
		facts, ours, err := r.parentFacts(ctx, &route, ref)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !ours {
			continue
		}
		if resolved == nil { // the same for every parent; computed only if needed
			c, err := r.resolvedRefs(ctx, &route)
			if err != nil {
				return ctrl.Result{}, err
			}
			resolved = &c
		}
		want = append(want, gatewayv1.RouteParentStatus{
			ParentRef: ref, ControllerName: ControllerName,
			Conditions: []metav1.Condition{routeAccepted(facts), *resolved},
		})
	}

	orig := route.DeepCopy()
	route.Status.Parents = mergeRouteParents(orig.Status.Parents, want, metav1.Now())
	if equality.Semantic.DeepEqual(orig.Status.Parents, route.Status.Parents) {
		return ctrl.Result{}, nil
	}
	written, err := patchStatus(ctx, r.Client, &route, orig)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("writing HTTPRoute %s status: %w", req.NamespacedName, err)
	}
	if !written {
		return ctrl.Result{}, nil
	}
	r.announce(&route, orig)
	return ctrl.Result{}, nil
}

// announce records an event for each of our parent conditions that changed.
func (r *HTTPRouteReconciler) announce(route, orig *gatewayv1.HTTPRoute) {
	for _, p := range route.Status.Parents {
		if p.ControllerName != ControllerName {
			continue
		}
		var before []metav1.Condition
		for _, o := range orig.Status.Parents {
			if o.ControllerName == ControllerName && equality.Semantic.DeepEqual(o.ParentRef, p.ParentRef) {
				before = o.Conditions
			}
		}
		for _, c := range p.Conditions {
			if !conditions.Changed(before, c) {
				continue
			}
			events.Record(r.Events, route, nil, eventType(c), c.Reason, events.ActionReconcile,
				fmt.Sprintf("parent %s %s: %s=%s: %s", ptrString(p.ParentRef.Kind), p.ParentRef.Name, c.Type, c.Status, c.Message))
		}
	}
}

// SetupWithManager watches HTTPRoutes and every object their status depends
// on, mapping each change to the routes it affects through field indexes.
func (r *HTTPRouteReconciler) SetupWithManager(mgr ctrl.Manager) error {
	by := func(key string, value func(client.Object) string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return routesBy(ctx, r.Client, key, value(o))
		})
	}
	nsName := func(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }
	namespace := func(o client.Object) string { return o.GetNamespace() }
	byClass := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var gws gatewayv1.GatewayList
		if err := r.List(ctx, &gws, client.MatchingFields{idxGatewayClass: o.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing Gateways of GatewayClass", "gatewayClass", o.GetName())
			return nil
		}
		var out []reconcile.Request
		for i := range gws.Items {
			out = append(out, routesBy(ctx, r.Client, idxRouteGateway, nsName(&gws.Items[i]))...)
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&gatewayv1.HTTPRoute{}).
		Watches(&corev1.Service{}, by(idxRouteService, nsName)).
		Watches(&corev1.Namespace{}, by(idxRouteParentNamespace, client.Object.GetName), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A Waypoint appearing or going changes Service parents in its namespace.
		Watches(&meshv1alpha1.Waypoint{}, by(idxRouteParentNamespace, namespace), builder.WithPredicates(waypointMattersToRoutes)).
		Watches(&gatewayv1.Gateway{}, by(idxRouteGateway, nsName)).
		Watches(&gatewayv1.GatewayClass{}, byClass).
		Watches(&gatewayv1beta1.ReferenceGrant{}, by(idxRouteBackendNamespace, namespace)).
		Named("httproute").
		Complete(r)
}
