package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestListenerAccepted(t *testing.T) {
	for name, tc := range map[string]struct {
		l    gatewayv1.Listener
		want want
	}{
		"HBONE 15008":      {gatewayv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE"}, want{metav1.ConditionTrue, "Accepted"}},
		"HTTP":             {gatewayv1.Listener{Name: "http", Port: 80, Protocol: "HTTP"}, want{metav1.ConditionFalse, "UnsupportedProtocol"}},
		"HBONE wrong port": {gatewayv1.Listener{Name: "mesh", Port: 15009, Protocol: "HBONE"}, want{metav1.ConditionFalse, "PortUnavailable"}},
		"HBONE with tls":   {gatewayv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE", TLS: &gatewayv1.ListenerTLSConfig{}}, want{metav1.ConditionFalse, "UnsupportedValue"}},
	} {
		check(t, name, listenerAccepted(tc.l, 2), tc.want, 2)
	}
}

func TestListenerResolvedRefs(t *testing.T) {
	gw := gatewayv1.Group(gatewayv1.GroupName)
	for name, tc := range map[string]struct {
		kinds     []gatewayv1.RouteGroupKind
		supported []string
		want      want
		wantKinds int
	}{
		"unset":                     {nil, []string{"HTTPRoute", "GRPCRoute"}, want{metav1.ConditionTrue, "ResolvedRefs"}, 2},
		"unset, no GRPCRoute CRD":   {nil, []string{"HTTPRoute"}, want{metav1.ConditionTrue, "ResolvedRefs"}, 1},
		"HTTPRoute":                 {[]gatewayv1.RouteGroupKind{{Group: &gw, Kind: "HTTPRoute"}}, []string{"HTTPRoute", "GRPCRoute"}, want{metav1.ConditionTrue, "ResolvedRefs"}, 1},
		"HTTPRoute no group":        {[]gatewayv1.RouteGroupKind{{Kind: "HTTPRoute"}}, []string{"HTTPRoute", "GRPCRoute"}, want{metav1.ConditionTrue, "ResolvedRefs"}, 1},
		"TCPRoute only":             {[]gatewayv1.RouteGroupKind{{Group: &gw, Kind: "TCPRoute"}}, []string{"HTTPRoute", "GRPCRoute"}, want{metav1.ConditionFalse, "InvalidRouteKinds"}, 0},
		"GRPCRoute and HTTPRoute":   {[]gatewayv1.RouteGroupKind{{Group: &gw, Kind: "GRPCRoute"}, {Group: &gw, Kind: "HTTPRoute"}}, []string{"HTTPRoute", "GRPCRoute"}, want{metav1.ConditionTrue, "ResolvedRefs"}, 2},
		"GRPCRoute without its CRD": {[]gatewayv1.RouteGroupKind{{Group: &gw, Kind: "GRPCRoute"}, {Group: &gw, Kind: "HTTPRoute"}}, []string{"HTTPRoute"}, want{metav1.ConditionFalse, "InvalidRouteKinds"}, 1},
	} {
		l := gatewayv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE", AllowedRoutes: &gatewayv1.AllowedRoutes{Kinds: tc.kinds}}
		c, kinds := listenerResolvedRefs(l, 1, tc.supported)
		check(t, name, c, tc.want, 1)
		if len(kinds) != tc.wantKinds {
			t.Errorf("%s: supportedKinds %v, want %d", name, kinds, tc.wantKinds)
		}
	}
}

func TestListenerProgrammed(t *testing.T) {
	yes := metav1.Condition{Status: metav1.ConditionTrue, Message: "ok"}
	no := metav1.Condition{Status: metav1.ConditionFalse, Message: "not ready"}
	for name, tc := range map[string]struct {
		accepted, gateway metav1.Condition
		want              want
	}{
		"accepted, gateway programmed":     {yes, yes, want{metav1.ConditionTrue, "Programmed"}},
		"accepted, gateway not programmed": {yes, no, want{metav1.ConditionFalse, "Pending"}},
		"not accepted":                     {no, yes, want{metav1.ConditionFalse, "Invalid"}},
	} {
		check(t, name, listenerProgrammed(tc.accepted, tc.gateway, 4), tc.want, 4)
	}
}
