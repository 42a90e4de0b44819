package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestListenerAllowsRoute(t *testing.T) {
	from := func(f gatewayv1.FromNamespaces, sel *metav1.LabelSelector) *gatewayv1.AllowedRoutes {
		return &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &f, Selector: sel}}
	}
	team := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	tcp := gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: "TCPRoute"}}}
	for name, tc := range map[string]struct {
		ar      *gatewayv1.AllowedRoutes
		routeNs string
		labels  map[string]string
		allow   bool
	}{
		"default, same ns":          {nil, "gw", nil, true},
		"default, other ns":         {nil, "app", nil, false},
		"All":                       {from(gatewayv1.NamespacesFromAll, nil), "app", nil, true},
		"Selector match":            {from(gatewayv1.NamespacesFromSelector, team), "app", map[string]string{"team": "a"}, true},
		"Selector no match":         {from(gatewayv1.NamespacesFromSelector, team), "app", map[string]string{"team": "b"}, false},
		"Selector without selector": {from(gatewayv1.NamespacesFromSelector, nil), "app", nil, false},
		"None":                      {from(gatewayv1.NamespacesFromNone, nil), "gw", nil, false},
		"kinds exclude HTTPRoute":   {&tcp, "gw", nil, false},
	} {
		l := gatewayv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE", AllowedRoutes: tc.ar}
		if got := listenerAllowsRoute(l, "gw", kindHTTPRoute, tc.routeNs, tc.labels); got != tc.allow {
			t.Errorf("%s: got %v, want %v", name, got, tc.allow)
		}
	}
	grpcOnly := gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: kindGRPCRoute}}}
	l := gatewayv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE", AllowedRoutes: &grpcOnly}
	if listenerAllowsRoute(l, "gw", kindHTTPRoute, "gw", nil) || !listenerAllowsRoute(l, "gw", kindGRPCRoute, "gw", nil) {
		t.Error("allowedRoutes.kinds [GRPCRoute] must admit GRPCRoutes only (ListenerSpec.AllowedRoutes.Kinds)")
	}
}

func TestParentRefSelectsListener(t *testing.T) {
	l := gatewayv1.Listener{Name: "mesh", Port: 15008}
	sec := func(v string) *gatewayv1.SectionName { s := gatewayv1.SectionName(v); return &s }
	port := func(v int32) *gatewayv1.PortNumber { return &v }
	for name, tc := range map[string]struct {
		ref gatewayv1.ParentReference
		sel bool
	}{
		"whole gateway": {gatewayv1.ParentReference{}, true},
		"by name":       {gatewayv1.ParentReference{SectionName: sec("mesh")}, true},
		"wrong name":    {gatewayv1.ParentReference{SectionName: sec("http")}, false},
		"by port":       {gatewayv1.ParentReference{Port: port(15008)}, true},
		"wrong port":    {gatewayv1.ParentReference{Port: port(80)}, false},
	} {
		if got := parentRefSelectsListener(tc.ref, l); got != tc.sel {
			t.Errorf("%s: got %v, want %v", name, got, tc.sel)
		}
	}
}
