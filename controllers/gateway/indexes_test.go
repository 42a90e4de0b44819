package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestRouteIndexes(t *testing.T) {
	core := gatewayv1.Group("")
	svc := gatewayv1.Kind("Service")
	mesh := gatewayv1.Group(meshGroup)
	wp := gatewayv1.Kind("Waypoint")
	other := gatewayv1.Namespace("other")
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "app"}, Spec: gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{
			{Group: &core, Kind: &svc, Name: "reviews"},
			{Group: &mesh, Kind: &wp, Name: "wp", Namespace: &other},
			{Name: "gw"}, // defaults: Gateway
		}},
		Rules: []gatewayv1.HTTPRouteRule{{
			Filters:     []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "shadow"}}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "ratings", Namespace: &other}}}},
		}},
	}}
	idx := routeIndexes(HTTPRoutes.view(route))
	for key, want := range map[string][]string{
		idxRouteService:          {"app/reviews", "app/shadow", "other/ratings"},
		idxRouteParentNamespace:  {"app", "other"}, // "app" also for the Gateway parent's allowedRoutes selector
		idxRouteGateway:          {"other/wp", "app/gw"},
		idxRouteBackendNamespace: {"other"},
		idxRouteParent:           {"Service/app/reviews", "Waypoint/other/wp", "Waypoint/app/gw"},
	} {
		if len(idx[key]) != len(want) {
			t.Errorf("%s: got %v, want %v", key, idx[key], want)
			continue
		}
		for _, w := range want {
			found := false
			for _, g := range idx[key] {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: got %v, missing %s", key, idx[key], w)
			}
		}
	}
}
