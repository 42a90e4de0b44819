package gateway

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways/finalizers,verbs=update
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// GatewayReconciler mirrors Gateways of our classes to Waypoints and reports
// the Waypoint's state in the Gateway's status.
type GatewayReconciler struct {
	client.Client
	Events events.Recorder
	// GRPCServed: the cluster serves GRPCRoutes (listeners then support
	// them, and they count as attached routes).
	GRPCServed bool
}

// kinds are the route kinds the cluster serves (HTTPRoute, GRPCRoute).
func (r *GatewayReconciler) kinds() []RouteKind { return servedKinds(r.GRPCServed) }

// kindNames lists the names of the route kinds, for listener supportedKinds.
func (r *GatewayReconciler) kindNames() []string {
	kinds := r.kinds()
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Kind
	}
	return out
}

// Reconcile brings one Gateway's Waypoint and status up to date.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gw gatewayv1.Gateway
	if err := r.Get(ctx, req.NamespacedName, &gw); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	class, err := ourClass(ctx, r.Client, gw.Spec.GatewayClassName)
	if err != nil || class == nil {
		return ctrl.Result{}, err
	}

	wp, err := r.waypoint(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	facts := gatewayFacts{Generation: gw.Generation, Conflict: waypointConflict(&gw, wp), RequestedAddresses: len(gw.Spec.Addresses) > 0}
	if c := gatewayClassAccepted(class); c.Status != metav1.ConditionTrue {
		facts.ClassRejected = fmt.Sprintf("GatewayClass %s is not accepted: %s", class.Name, c.Message)
	}
	forType, forErr := waypointFor(&gw)
	if forErr != nil {
		facts.InvalidFor = forErr.Error()
	}
	listenerAccepts := make([]metav1.Condition, len(gw.Spec.Listeners))
	for i, l := range gw.Spec.Listeners {
		listenerAccepts[i] = listenerAccepted(l, gw.Generation)
		if listenerAccepts[i].Status == metav1.ConditionTrue {
			facts.ValidListeners++
		} else {
			facts.InvalidListeners++
		}
	}
	accepted := gatewayAccepted(facts)

	if facts.Conflict != "" {
		wp = nil // never report or touch a Waypoint that is not ours
	} else if accepted.Status == metav1.ConditionTrue {
		if wp, err = r.mirror(ctx, &gw, wp, forType); err != nil {
			return ctrl.Result{}, err
		}
	}

	var svc *corev1.Service
	if wp != nil {
		if svc, err = r.service(ctx, req.NamespacedName); err != nil {
			return ctrl.Result{}, err
		}
	}
	programmed := gatewayProgrammed(accepted, wp, gw.Generation)
	attached, err := r.attachedRoutes(ctx, &gw)
	if err != nil {
		return ctrl.Result{}, err
	}

	orig, now := gw.DeepCopy(), metav1.Now()
	conditions.Set(&gw.Status.Conditions, accepted, now)
	conditions.Set(&gw.Status.Conditions, programmed, now)
	gw.Status.Addresses = gatewayAddresses(svc)
	gw.Status.Listeners = listenerStatuses(&gw, orig.Status.Listeners, listenerAccepts, programmed, attached, r.kindNames(), now)
	if equality.Semantic.DeepEqual(orig.Status, gw.Status) {
		return ctrl.Result{}, nil
	}
	written, err := patchStatus(ctx, r.Client, &gw, orig)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("writing Gateway %s status: %w", req.NamespacedName, err)
	}
	if !written {
		return ctrl.Result{}, nil
	}
	r.announce(&gw, orig, accepted, programmed)
	return ctrl.Result{}, nil
}

// listenerStatuses builds status.listeners in spec order, merging into the
// previous conditions so LastTransitionTime only moves on a change.
func listenerStatuses(gw *gatewayv1.Gateway, prev []gatewayv1.ListenerStatus, accepts []metav1.Condition, programmed metav1.Condition, attached map[gatewayv1.SectionName]int32, supported []string, now metav1.Time) []gatewayv1.ListenerStatus {
	out := make([]gatewayv1.ListenerStatus, 0, len(gw.Spec.Listeners))
	for i, l := range gw.Spec.Listeners {
		resolved, kinds := listenerResolvedRefs(l, gw.Generation, supported)
		var conds []metav1.Condition
		for _, p := range prev {
			if p.Name == l.Name {
				conds = p.Conditions
			}
		}
		for _, c := range []metav1.Condition{accepts[i], resolved, listenerProgrammed(accepts[i], programmed, gw.Generation)} {
			conditions.Set(&conds, c, now)
		}
		out = append(out, gatewayv1.ListenerStatus{Name: l.Name, SupportedKinds: kinds, AttachedRoutes: attached[l.Name], Conditions: conds})
	}
	return out
}

// mirror creates the Gateway's Waypoint, or sets its spec.for, touching
// nothing else so that edits to the Waypoint (version, autoscaling) stay.
func (r *GatewayReconciler) mirror(ctx context.Context, gw *gatewayv1.Gateway, wp *meshv1alpha1.Waypoint, forType meshv1alpha1.TrafficType) (*meshv1alpha1.Waypoint, error) {
	if wp == nil {
		want := desiredWaypoint(gw, forType)
		if err := r.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating Waypoint %s/%s: it appeared since the cache was read, retrying: %w", gw.Namespace, gw.Name, err)
			}
			events.Record(r.Events, gw, nil, corev1.EventTypeWarning, "WaypointCreateFailed", events.ActionCreate, fmt.Sprintf("creating Waypoint %s: %v", gw.Name, err))
			return nil, fmt.Errorf("creating Waypoint %s/%s: %w", gw.Namespace, gw.Name, err)
		}
		events.Record(r.Events, gw, want, corev1.EventTypeNormal, "WaypointCreated", events.ActionCreate, fmt.Sprintf("created Waypoint %s (for: %s)", gw.Name, forType))
		return want, nil
	}
	if wp.Spec.For == forType {
		return wp, nil
	}
	orig := wp.DeepCopy()
	wp.Spec.For = forType
	if err := r.Patch(ctx, wp, client.MergeFrom(orig)); err != nil {
		events.Record(r.Events, gw, wp, corev1.EventTypeWarning, "WaypointUpdateFailed", events.ActionUpdate, fmt.Sprintf("setting Waypoint %s spec.for to %s: %v", wp.Name, forType, err))
		return nil, fmt.Errorf("updating Waypoint %s/%s: %w", wp.Namespace, wp.Name, err)
	}
	events.Record(r.Events, gw, wp, corev1.EventTypeNormal, "WaypointUpdated", events.ActionUpdate, fmt.Sprintf("set Waypoint %s spec.for from %s to %s", wp.Name, orig.Spec.For, forType))
	return wp, nil
}

// announce records an event when Accepted or Programmed changes.
func (r *GatewayReconciler) announce(gw, orig *gatewayv1.Gateway, accepted, programmed metav1.Condition) {
	for _, c := range []metav1.Condition{accepted, programmed} {
		if !conditions.Changed(orig.Status.Conditions, c) {
			continue
		}
		events.Record(r.Events, gw, nil, eventType(c), c.Type+string(c.Status), events.ActionReconcile,
			fmt.Sprintf("%s=%s (%s): %s", c.Type, c.Status, c.Reason, c.Message))
	}
}

// attachedRoutes counts, per listener, the routes (of every kind served)
// attached to it: routes whose Gateway (or same-named Waypoint) parentRef
// selects the listener and that its allowedRoutes admit.
func (r *GatewayReconciler) attachedRoutes(ctx context.Context, gw *gatewayv1.Gateway) (map[gatewayv1.SectionName]int32, error) {
	nsLabels := map[string]map[string]string{}
	out := map[gatewayv1.SectionName]int32{}
	for _, kind := range r.kinds() {
		routes, err := listRoutesBy(ctx, r.Client, kind, idxRouteGateway, gw.Namespace+"/"+gw.Name)
		if err != nil {
			return nil, err
		}
		for _, obj := range routes {
			route := kind.view(obj)
			routeNS := obj.GetNamespace()
			if _, ok := nsLabels[routeNS]; !ok {
				var ns corev1.Namespace
				if err := r.Get(ctx, types.NamespacedName{Name: routeNS}, &ns); client.IgnoreNotFound(err) != nil {
					return nil, fmt.Errorf("reading Namespace %s: %w", routeNS, err)
				}
				nsLabels[routeNS] = ns.Labels
			}
			for _, l := range gw.Spec.Listeners {
				for _, ref := range route.parents {
					pk, ns := classifyParent(ref, routeNS)
					if (pk == parentGateway || pk == parentWaypoint) && ns == gw.Namespace && string(ref.Name) == gw.Name &&
						parentRefSelectsListener(ref, l) && listenerAllowsRoute(l, gw.Namespace, kind.Kind, routeNS, nsLabels[routeNS]) {
						out[l.Name]++
						break
					}
				}
			}
		}
	}
	return out, nil
}

func (r *GatewayReconciler) waypoint(ctx context.Context, key types.NamespacedName) (*meshv1alpha1.Waypoint, error) {
	var wp meshv1alpha1.Waypoint
	if err := r.Get(ctx, key, &wp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Waypoint %s: %w", key, err)
	}
	return &wp, nil
}

func (r *GatewayReconciler) service(ctx context.Context, key types.NamespacedName) (*corev1.Service, error) {
	var svc corev1.Service
	if err := r.Get(ctx, key, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Service %s: %w", key, err)
	}
	return &svc, nil
}

// SetupWithManager watches Gateways and everything their status depends on.
func (r *GatewayReconciler) SetupWithManager(mgr ctrl.Manager) error {
	sameName := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
	})
	byClass := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list gatewayv1.GatewayList
		if err := r.List(ctx, &list, client.MatchingFields{idxGatewayClass: o.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing Gateways of GatewayClass", "gatewayClass", o.GetName())
			return nil
		}
		out := make([]reconcile.Request, 0, len(list.Items))
		for _, g := range list.Items {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&g)})
		}
		return out
	})
	// Namespace labels decide allowedRoutes selectors, hence attachedRoutes.
	byRouteNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var out []reconcile.Request
		for _, kind := range r.kinds() {
			list := kind.newList()
			if err := r.List(ctx, list, client.InNamespace(o.GetName())); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "listing routes of Namespace", "kind", kind.Kind, "namespace", o.GetName())
				continue
			}
			for _, route := range kind.items(list) {
				out = append(out, gatewayParents(kind.view(route))...)
			}
		}
		return out
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&gatewayv1.Gateway{}).
		// Not Owns: a foreign Waypoint's deletion must also wake its Gateway.
		Watches(&meshv1alpha1.Waypoint{}, sameName, builder.WithPredicates(waypointMattersToGateway)).
		Watches(&corev1.Service{}, sameName).
		Watches(&gatewayv1.GatewayClass{}, byClass).
		Watches(&corev1.Namespace{}, byRouteNamespace, builder.WithPredicates(predicate.LabelChangedPredicate{}))
	for _, kind := range r.kinds() {
		b = b.Watches(kind.newObj(), handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return gatewayParents(kind.view(o))
		}))
	}
	return b.Named("gateway").Complete(r)
}

// gatewayParents are the Gateways a route names, directly or through a
// Waypoint of the same name.
func gatewayParents(route routeView) []reconcile.Request {
	var out []reconcile.Request
	for _, ref := range route.parents {
		if kind, ns := classifyParent(ref, route.obj.GetNamespace()); kind == parentGateway || kind == parentWaypoint {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: string(ref.Name)}})
		}
	}
	return out
}
