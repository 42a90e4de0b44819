package gateway

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// RouteKind is one route type whose status the operator writes: HTTPRoutes
// or GRPCRoutes. Both have the same parentRefs, backendRefs and status
// shape, so one reconciler serves both through this description.
type RouteKind struct {
	Kind    string
	newObj  func() client.Object
	newList func() client.ObjectList
	items   func(client.ObjectList) []client.Object
	view    func(client.Object) routeView
}

// routeView is what the status controller reads and writes of one route.
type routeView struct {
	obj      client.Object
	parents  []gatewayv1.ParentReference
	backends []gatewayv1.BackendObjectReference
	status   *gatewayv1.RouteStatus
}

// servedKinds are the route kinds the controllers handle: HTTPRoutes, and
// GRPCRoutes when the cluster serves them.
func servedKinds(grpcServed bool) []RouteKind {
	if grpcServed {
		return []RouteKind{HTTPRoutes, GRPCRoutes}
	}
	return []RouteKind{HTTPRoutes}
}

// HTTPRoutes describes gateway.networking.k8s.io/v1 HTTPRoutes.
var HTTPRoutes = RouteKind{
	Kind:    kindHTTPRoute,
	newObj:  func() client.Object { return &gatewayv1.HTTPRoute{} },
	newList: func() client.ObjectList { return &gatewayv1.HTTPRouteList{} },
	items: func(l client.ObjectList) []client.Object {
		list := l.(*gatewayv1.HTTPRouteList)
		out := make([]client.Object, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out
	},
	view: func(o client.Object) routeView {
		r := o.(*gatewayv1.HTTPRoute)
		return routeView{obj: r, parents: r.Spec.ParentRefs, backends: backendRefs(&r.Spec), status: &r.Status.RouteStatus}
	},
}

// GRPCRoutes describes gateway.networking.k8s.io/v1 GRPCRoutes.
var GRPCRoutes = RouteKind{
	Kind:    kindGRPCRoute,
	newObj:  func() client.Object { return &gatewayv1.GRPCRoute{} },
	newList: func() client.ObjectList { return &gatewayv1.GRPCRouteList{} },
	items: func(l client.ObjectList) []client.Object {
		list := l.(*gatewayv1.GRPCRouteList)
		out := make([]client.Object, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out
	},
	view: func(o client.Object) routeView {
		r := o.(*gatewayv1.GRPCRoute)
		return routeView{obj: r, parents: r.Spec.ParentRefs, backends: grpcBackendRefs(&r.Spec), status: &r.Status.RouteStatus}
	},
}

// grpcBackendRefs lists every backend a GRPCRoute sends traffic to,
// including RequestMirror targets on rules and on backendRefs.
func grpcBackendRefs(spec *gatewayv1.GRPCRouteSpec) []gatewayv1.BackendObjectReference {
	var out []gatewayv1.BackendObjectReference
	mirrors := func(filters []gatewayv1.GRPCRouteFilter) {
		for _, f := range filters {
			if f.RequestMirror != nil {
				out = append(out, f.RequestMirror.BackendRef)
			}
		}
	}
	for _, rule := range spec.Rules {
		mirrors(rule.Filters)
		for _, b := range rule.BackendRefs {
			out = append(out, b.BackendObjectReference)
			mirrors(b.Filters)
		}
	}
	return out
}
