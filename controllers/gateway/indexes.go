package gateway

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Field indexes on HTTPRoute and GRPCRoute, so that a change to a Service,
// Namespace, Waypoint, Gateway, ReferenceGrant or route of the other kind
// re-evaluates only the routes it affects.
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
	// idxRouteParent: "Service/ns/name" of the route's Service parents and
	// "Waypoint/ns/name" of its Waypoint and Gateway parents: routes of the
	// two kinds that share one conflict (GEP-1294).
	idxRouteParent = "wayfabric.route.parent"
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

// parentKey is the idxRouteParent value of a Service or Waypoint parent.
func parentKey(kind parentKind, ns, name string) string {
	if kind == parentService {
		return kindService + "/" + ns + "/" + name
	}
	return kindWaypoint + "/" + ns + "/" + name
}

func routeIndexes(route routeView) map[string][]string {
	idx := map[string][]string{}
	add := func(key, v string) {
		for _, x := range idx[key] {
			if x == v {
				return
			}
		}
		idx[key] = append(idx[key], v)
	}
	routeNS := route.obj.GetNamespace()
	for _, ref := range route.parents {
		kind, ns := classifyParent(ref, routeNS)
		key := ns + "/" + string(ref.Name)
		switch kind {
		case parentService:
			add(idxRouteService, key)
			add(idxRouteParentNamespace, ns)
			add(idxRouteParent, parentKey(kind, ns, string(ref.Name)))
		case parentWaypoint:
			add(idxRouteParentNamespace, ns)
			add(idxRouteParentNamespace, routeNS)
			add(idxRouteGateway, key)
			add(idxRouteParent, parentKey(kind, ns, string(ref.Name)))
		case parentGateway:
			add(idxRouteParentNamespace, routeNS)
			add(idxRouteGateway, key)
			add(idxRouteParent, parentKey(kind, ns, string(ref.Name)))
		}
	}
	for _, b := range route.backends {
		group, kind, ns, name := backendTarget(b, routeNS)
		if group == "" && kind == kindService {
			add(idxRouteService, ns+"/"+name)
		}
		if ns != routeNS {
			add(idxRouteBackendNamespace, ns)
		}
	}
	return idx
}

// RegisterIndexes adds the route field indexes (HTTPRoutes, and GRPCRoutes
// when the cluster serves them) the Gateway and route controllers look
// routes up by, and indexes Gateways by class.
func RegisterIndexes(mgr ctrl.Manager, grpcServed bool) error {
	ctx := context.Background()
	for _, k := range servedKinds(grpcServed) {
		for _, key := range []string{idxRouteService, idxRouteParentNamespace, idxRouteGateway, idxRouteBackendNamespace, idxRouteParent} {
			if err := mgr.GetFieldIndexer().IndexField(ctx, k.newObj(), key, func(o client.Object) []string {
				return routeIndexes(k.view(o))[key]
			}); err != nil {
				return fmt.Errorf("indexing %s by %s: %w", k.Kind, key, err)
			}
		}
	}
	return mgr.GetFieldIndexer().IndexField(ctx, &gatewayv1.Gateway{}, idxGatewayClass, func(o client.Object) []string {
		return []string{string(o.(*gatewayv1.Gateway).Spec.GatewayClassName)}
	})
}

// listRoutesBy lists the routes of kind whose index key has value v.
func listRoutesBy(ctx context.Context, c client.Reader, kind RouteKind, key, v string) ([]client.Object, error) {
	list := kind.newList()
	if err := c.List(ctx, list, client.MatchingFields{key: v}); err != nil {
		return nil, fmt.Errorf("listing %ss by %s=%s: %w", kind.Kind, key, v, err)
	}
	return kind.items(list), nil
}

// routesBy maps an event to the routes of kind whose index key has value v.
func routesBy(ctx context.Context, c client.Client, kind RouteKind, key, v string) []reconcile.Request {
	items, err := listRoutesBy(ctx, c, kind, key, v)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing routes to re-evaluate")
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, r := range items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: r.GetNamespace(), Name: r.GetName()}})
	}
	return out
}
