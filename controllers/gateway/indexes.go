package gateway

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Field indexes on HTTPRoute, so that a change to a Service, Namespace,
// Waypoint, Gateway or ReferenceGrant re-evaluates only the routes it affects.
const (
	// idxRouteService: "ns/name" of every Service the route names as a parent or backend.
	idxRouteService = "wayfabric.route.service"
	// idxRouteParentNamespace: namespaces whose labels or Waypoints decide the
	// route's acceptance: those of its Service and Waypoint parents, and its
	// own when a Gateway or Waypoint parent may select it by namespace labels.
	idxRouteParentNamespace = "wayfabric.route.parentNamespace"
	// idxRouteGateway: "ns/name" of the route's Gateway and Waypoint parents
	// (a Gateway and its Waypoint share a name).
	idxRouteGateway = "wayfabric.route.gateway"
	// idxRouteBackendNamespace: namespaces the route's backends live in,
	// other than its own (where ReferenceGrants matter).
	idxRouteBackendNamespace = "wayfabric.route.backendNamespace"
	// idxGatewayClass: a Gateway's gatewayClassName.
	idxGatewayClass = "wayfabric.gateway.class"
)

// parentKind classifies a parentRef after applying the spec's defaults.
type parentKind int

const (
	parentOther parentKind = iota
	parentService
	parentWaypoint
	parentGateway
)

// classifyParent returns the kind and namespace of a parentRef.
func classifyParent(ref gatewayv1.ParentReference, routeNamespace string) (parentKind, string) {
	group, kind := gatewayv1.GroupName, kindGateway
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := routeNamespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	switch {
	case group == "" && kind == kindService:
		return parentService, ns
	case group == meshGroup && kind == kindWaypoint:
		return parentWaypoint, ns
	case group == gatewayv1.GroupName && kind == kindGateway:
		return parentGateway, ns
	}
	return parentOther, ns
}

func routeIndexes(route *gatewayv1.HTTPRoute) map[string][]string {
	idx := map[string][]string{}
	add := func(key, v string) {
		for _, x := range idx[key] {
			if x == v {
				return
			}
		}
		idx[key] = append(idx[key], v)
	}
	for _, ref := range route.Spec.ParentRefs {
		kind, ns := classifyParent(ref, route.Namespace)
		key := ns + "/" + string(ref.Name)
		switch kind {
		case parentService:
			add(idxRouteService, key)
			add(idxRouteParentNamespace, ns)
		case parentWaypoint:
			add(idxRouteParentNamespace, ns)
			add(idxRouteParentNamespace, route.Namespace)
			add(idxRouteGateway, key)
		case parentGateway:
			add(idxRouteParentNamespace, route.Namespace)
			add(idxRouteGateway, key)
		}
	}
	for _, b := range backendRefs(&route.Spec) {
		group, kind, ns, name := backendTarget(b, route.Namespace)
		if group == "" && kind == kindService {
			add(idxRouteService, ns+"/"+name)
		}
		if ns != route.Namespace {
			add(idxRouteBackendNamespace, ns)
		}
	}
	return idx
}

// RegisterIndexes adds the HTTPRoute field indexes the Gateway and
// HTTPRoute controllers look routes up by.
func RegisterIndexes(mgr ctrl.Manager) error {
	ctx := context.Background()
	for _, key := range []string{idxRouteService, idxRouteParentNamespace, idxRouteGateway, idxRouteBackendNamespace} {
		if err := mgr.GetFieldIndexer().IndexField(ctx, &gatewayv1.HTTPRoute{}, key, func(o client.Object) []string {
			return routeIndexes(o.(*gatewayv1.HTTPRoute))[key]
		}); err != nil {
			return err
		}
	}
	return mgr.GetFieldIndexer().IndexField(ctx, &gatewayv1.Gateway{}, idxGatewayClass, func(o client.Object) []string {
		return []string{string(o.(*gatewayv1.Gateway).Spec.GatewayClassName)}
	})
}

// routesBy maps an event to the HTTPRoutes whose index key has value v.
func routesBy(ctx context.Context, c client.Client, key, v string) []reconcile.Request {
	var list gatewayv1.HTTPRouteList
	if err := c.List(ctx, &list, client.MatchingFields{key: v}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing HTTPRoutes to re-evaluate", "index", key, "value", v)
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, r := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}})
	}
	return out
}
