package gateway

import (
	"context"
	"fmt"
	"strings"

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

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes/status;grpcroutes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=referencegrants,verbs=get;list;watch

// RouteReconciler writes per-parent status (Accepted, ResolvedRefs) on
// routes of one kind (HTTPRoute or GRPCRoute) whose parents are
// waypoint-served Services (GAMMA), Waypoints, or Gateways of our classes.
type RouteReconciler struct {
	client.Client
	Events events.Recorder
	// Kind is the route kind this reconciler serves: HTTPRoutes or GRPCRoutes.
	Kind RouteKind
	// GRPCServed: the cluster serves GRPCRoutes, which can conflict with HTTPRoutes.
	GRPCServed bool
}

// Reconcile recomputes our entries in one route's status.parents.
func (r *RouteReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.Kind.newObj()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	route := r.Kind.view(obj)
	var want []gatewayv1.RouteParentStatus
	var resolved *metav1.Condition
	for _, ref := range route.parents {
		facts, ours, err := r.parentFacts(ctx, route, ref)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !ours {
			continue
		}
		if resolved == nil { // the same for every parent; computed only if needed
			c, err := r.resolvedRefs(ctx, route)
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

	orig := obj.DeepCopyObject().(client.Object)
	before := r.Kind.view(orig).status.Parents
	route.status.Parents = mergeRouteParents(before, want, metav1.Now())
	if equality.Semantic.DeepEqual(before, route.status.Parents) {
		return ctrl.Result{}, nil
	}
	written, err := patchStatus(ctx, r.Client, obj, orig)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("writing %s %s status: %w", r.Kind.Kind, req.NamespacedName, err)
	}
	if !written {
		return ctrl.Result{}, nil
	}
	r.announce(obj, route.status.Parents, before)
	return ctrl.Result{}, nil
}

// announce records an event for each of our parent conditions that changed.
func (r *RouteReconciler) announce(route client.Object, parents, before []gatewayv1.RouteParentStatus) {
	for _, p := range parents {
		if p.ControllerName != ControllerName {
			continue
		}
		var was []metav1.Condition
		for _, o := range before {
			if o.ControllerName == ControllerName && equality.Semantic.DeepEqual(o.ParentRef, p.ParentRef) {
				was = o.Conditions
			}
		}
		for _, c := range p.Conditions {
			if !conditions.Changed(was, c) {
				continue
			}
			events.Record(r.Events, route, nil, eventType(c), c.Reason, events.ActionReconcile,
				fmt.Sprintf("parent %s %s: %s=%s: %s", ptrString(p.ParentRef.Kind), p.ParentRef.Name, c.Type, c.Status, c.Message))
		}
	}
}

// SetupWithManager watches routes of the reconciler's kind and every object
// their status depends on, mapping each change to the routes it affects
// through field indexes.
func (r *RouteReconciler) SetupWithManager(mgr ctrl.Manager) error {
	by := func(key string, value func(client.Object) string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return routesBy(ctx, r.Client, r.Kind, key, value(o))
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
			out = append(out, routesBy(ctx, r.Client, r.Kind, idxRouteGateway, nsName(&gws.Items[i]))...)
		}
		return out
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(r.Kind.newObj()).
		Watches(&corev1.Service{}, by(idxRouteService, nsName)).
		Watches(&corev1.Namespace{}, by(idxRouteParentNamespace, client.Object.GetName), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A Waypoint appearing or going changes Service parents in its namespace.
		Watches(&meshv1alpha1.Waypoint{}, by(idxRouteParentNamespace, namespace), builder.WithPredicates(waypointMattersToRoutes)).
		Watches(&gatewayv1.Gateway{}, by(idxRouteGateway, nsName)).
		Watches(&gatewayv1.GatewayClass{}, byClass).
		Watches(&gatewayv1beta1.ReferenceGrant{}, by(idxRouteBackendNamespace, namespace))
	if r.Kind.Kind == kindHTTPRoute && r.GRPCServed {
		// A GRPCRoute binding the same Service port (or Waypoint) makes an
		// HTTPRoute Conflicted (GEP-1294).
		b = b.Watches(&gatewayv1.GRPCRoute{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var out []reconcile.Request
			for _, key := range routeIndexes(GRPCRoutes.view(o))[idxRouteParent] {
				out = append(out, routesBy(ctx, r.Client, HTTPRoutes, idxRouteParent, key)...)
			}
			return out
		}))
	}
	return b.Named(strings.ToLower(r.Kind.Kind)).Complete(r)
}
