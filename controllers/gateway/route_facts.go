package gateway

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// The reconciler's lookups: they read the cluster and fill in the facts the
// pure condition functions (routeAccepted, routeResolvedRefs) decide on.

// parentFacts gathers what the Accepted condition for one parentRef depends
// on, and whether the parent is ours to report on at all.
func (r *RouteReconciler) parentFacts(ctx context.Context, route routeView, ref gatewayv1.ParentReference) (parentFacts, bool, error) {
	kind, ns := classifyParent(ref, route.obj.GetNamespace())
	key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	f := parentFacts{Generation: route.obj.GetGeneration(), Allowed: true}
	switch kind {
	case parentService:
		f.IsService, f.Parent = true, "Service "+key.String()
		if err := r.serviceFacts(ctx, route, ref, key, &f); err != nil {
			return f, true, err
		}
		return f, true, r.conflictFacts(ctx, route, ref, kind, key, &f)
	case parentWaypoint:
		f.Parent = "Waypoint " + key.String()
		if err := r.waypointFacts(ctx, route, ref, key, &f); err != nil {
			return f, true, err
		}
		return f, true, r.conflictFacts(ctx, route, ref, kind, key, &f)
	case parentGateway:
		var gw gatewayv1.Gateway
		if err := r.Get(ctx, key, &gw); err != nil {
			// A missing Gateway may belong to any implementation: not ours to report.
			return f, false, client.IgnoreNotFound(err)
		}
		if class, err := ourClass(ctx, r.Client, gw.Spec.GatewayClassName); err != nil || class == nil {
			return f, false, err
		}
		f.Parent, f.Found = "Gateway "+key.String(), true
		if err := r.listenerFacts(ctx, route, ref, &gw, &f); err != nil {
			return f, true, err
		}
		return f, true, r.conflictFacts(ctx, route, ref, kind, key, &f)
	}
	return f, false, nil
}

func (r *RouteReconciler) serviceFacts(ctx context.Context, route routeView, ref gatewayv1.ParentReference, key types.NamespacedName, f *parentFacts) error {
	var svc corev1.Service
	if err := r.Get(ctx, key, &svc); err != nil {
		return client.IgnoreNotFound(err)
	}
	f.Found = true
	f.NotClusterIP = svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone
	if key.Namespace != route.obj.GetNamespace() {
		f.ConsumerNamespace = route.obj.GetNamespace()
	}
	var ns corev1.Namespace
	if err := r.Get(ctx, types.NamespacedName{Name: key.Namespace}, &ns); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading Namespace %s: %w", key.Namespace, err)
	}
	f.Waypoint, f.WaypointSource = serviceWaypoint(svc.Labels, ns.Labels)
	if f.Waypoint != "" {
		var wp meshv1alpha1.Waypoint
		err := r.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: f.Waypoint}, &wp)
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("reading Waypoint %s/%s: %w", key.Namespace, f.Waypoint, err)
		}
		f.WaypointFound = err == nil
		f.WorkloadOnly = f.WaypointFound && wp.Spec.For == meshv1alpha1.TrafficWorkload
	}
	f.SectionMismatch = servicePortMismatch(&svc, (*string)(ref.SectionName), ref.Port)
	return nil
}

// waypointFacts: a Waypoint mirrored from one of our Gateways admits routes
// as that Gateway's listeners do; a plain Waypoint behaves like a Gateway
// with one listener and default allowedRoutes (same namespace only).
func (r *RouteReconciler) waypointFacts(ctx context.Context, route routeView, ref gatewayv1.ParentReference, key types.NamespacedName, f *parentFacts) error {
	var wp meshv1alpha1.Waypoint
	if err := r.Get(ctx, key, &wp); err != nil {
		return client.IgnoreNotFound(err)
	}
	f.Found = true
	if owner := metav1.GetControllerOf(&wp); owner != nil && owner.Kind == kindGateway && owner.APIVersion == gatewayv1.GroupVersion.String() {
		var gw gatewayv1.Gateway
		err := r.Get(ctx, types.NamespacedName{Namespace: wp.Namespace, Name: owner.Name}, &gw)
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("reading Gateway %s/%s: %w", wp.Namespace, owner.Name, err)
		}
		if err == nil && gw.UID == owner.UID {
			return r.listenerFacts(ctx, route, ref, &gw, f)
		}
	}
	if (ref.SectionName != nil && *ref.SectionName != "") || (ref.Port != nil && *ref.Port != 0 && *ref.Port != PortHBONE) {
		f.SectionMismatch = fmt.Sprintf("Waypoint %s has no sections and listens on port %d only; it does not match %s", key, PortHBONE, refSelector(ref))
		return nil
	}
	if route.obj.GetNamespace() != wp.Namespace {
		f.Allowed = false
		f.NotAllowedWhy = fmt.Sprintf("Waypoint %s admits routes from its own namespace only; use a Gateway with allowedRoutes to admit others", key)
	}
	return nil
}

// listenerFacts applies the Gateway's listeners to the parentRef: which ones
// it selects, and whether any of those admits the route.
func (r *RouteReconciler) listenerFacts(ctx context.Context, route routeView, ref gatewayv1.ParentReference, gw *gatewayv1.Gateway, f *parentFacts) error {
	routeNS := route.obj.GetNamespace()
	var ns corev1.Namespace
	if err := r.Get(ctx, types.NamespacedName{Name: routeNS}, &ns); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading Namespace %s: %w", routeNS, err)
	}
	selected := 0
	f.Allowed = false
	for _, l := range gw.Spec.Listeners {
		if !parentRefSelectsListener(ref, l) {
			continue
		}
		selected++
		if listenerAllowsRoute(l, gw.Namespace, r.Kind.Kind, routeNS, ns.Labels) {
			f.Allowed = true
		}
	}
	if selected == 0 {
		f.SectionMismatch = fmt.Sprintf("Gateway %s/%s has no listener matching %s", gw.Namespace, gw.Name, refSelector(ref))
	}
	if !f.Allowed {
		f.NotAllowedWhy = fmt.Sprintf("no listener of Gateway %s/%s admits %ss from namespace %s (see allowedRoutes)", gw.Namespace, gw.Name, r.Kind.Kind, routeNS)
	}
	return nil
}

// resolvedRefs checks every backend of the route.
func (r *RouteReconciler) resolvedRefs(ctx context.Context, route routeView) (metav1.Condition, error) {
	routeNS := route.obj.GetNamespace()
	// A consumer route changes only its own namespace's traffic (GEP-1294):
	// its backends need no ReferenceGrant; every other route's do.
	consumerOnly := isConsumerOnly(route.parents, routeNS)
	grants := map[string][]gatewayv1beta1.ReferenceGrant{}
	var facts []backendFacts
	for _, ref := range route.backends {
		group, kind, ns, name := backendTarget(ref, routeNS)
		b := backendFacts{Ref: describe(group, kind, ns, name), SupportedKind: group == "" && kind == kindService, CrossNamespace: ns != routeNS && !consumerOnly}
		if b.CrossNamespace {
			if _, ok := grants[ns]; !ok {
				var list gatewayv1beta1.ReferenceGrantList
				if err := r.List(ctx, &list, client.InNamespace(ns)); err != nil {
					return metav1.Condition{}, fmt.Errorf("listing ReferenceGrants in %s: %w", ns, err)
				}
				grants[ns] = list.Items
			}
			b.Permitted = grantAllows(grants[ns], routeNS, r.Kind.Kind, group, kind, name)
		}
		if b.SupportedKind && (!b.CrossNamespace || b.Permitted) {
			var svc corev1.Service
			err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc)
			if client.IgnoreNotFound(err) != nil {
				return metav1.Condition{}, fmt.Errorf("reading Service %s/%s: %w", ns, name, err)
			}
			b.Found = err == nil
		}
		facts = append(facts, b)
	}
	return routeResolvedRefs(facts, route.obj.GetGeneration()), nil
}

// isConsumerOnly: every parentRef is a Service in another namespace.
func isConsumerOnly(parents []gatewayv1.ParentReference, routeNS string) bool {
	for _, ref := range parents {
		if kind, ns := classifyParent(ref, routeNS); kind != parentService || ns == routeNS {
			return false
		}
	}
	return len(parents) > 0
}

// ourClass returns the named GatewayClass if its controllerName is ours,
// else nil.
func ourClass(ctx context.Context, c client.Client, name gatewayv1.ObjectName) (*gatewayv1.GatewayClass, error) {
	var gc gatewayv1.GatewayClass
	if err := c.Get(ctx, types.NamespacedName{Name: string(name)}, &gc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading GatewayClass %s: %w", name, err)
	}
	if gc.Spec.ControllerName != ControllerName {
		return nil, nil
	}
	return &gc, nil
}

func ptrString[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// refSelector describes a parentRef's sectionName and port for messages.
func refSelector(ref gatewayv1.ParentReference) string {
	switch {
	case ref.SectionName != nil && ref.Port != nil:
		return fmt.Sprintf("sectionName %q and port %d", *ref.SectionName, *ref.Port)
	case ref.SectionName != nil:
		return fmt.Sprintf("sectionName %q", *ref.SectionName)
	case ref.Port != nil:
		return fmt.Sprintf("port %d", *ref.Port)
	}
	return "the whole resource"
}
