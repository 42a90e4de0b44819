package gateway

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// listenerAccepted is a listener's Accepted condition. A waypoint terminates
// exactly one kind of traffic: HBONE on 15008, always mTLS with mesh
// identities, so any other protocol, port or TLS setting cannot be honoured.
func listenerAccepted(l gatewayv1.Listener, generation int64) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.ListenerConditionAccepted), ObservedGeneration: generation}
	switch {
	case l.Protocol != ProtocolHBONE:
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.ListenerReasonUnsupportedProtocol)
		c.Message = fmt.Sprintf("protocol %q is not supported: a waypoint Gateway accepts only protocol %s on port %d", l.Protocol, ProtocolHBONE, PortHBONE)
	case l.Port != PortHBONE:
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.ListenerReasonPortUnavailable)
		c.Message = fmt.Sprintf("port %d is not available: %s listeners must use port %d", l.Port, ProtocolHBONE, PortHBONE)
	case l.TLS != nil:
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.ListenerReasonUnsupportedValue)
		c.Message = "tls is not supported on an HBONE listener: HBONE is always mutual TLS with mesh certificates"
	default:
		c.Status = metav1.ConditionTrue
		c.Reason = string(gatewayv1.ListenerReasonAccepted)
		c.Message = fmt.Sprintf("%s listener on port %d", ProtocolHBONE, PortHBONE)
	}
	return c
}

// listenerResolvedRefs is a listener's ResolvedRefs condition and the route
// kinds it supports: those of supported (HTTPRoute, and GRPCRoute where the
// cluster serves it) that allowedRoutes.kinds asks for, all when it is unset.
func listenerResolvedRefs(l gatewayv1.Listener, generation int64, supported []string) (metav1.Condition, []gatewayv1.RouteGroupKind) {
	c := metav1.Condition{Type: string(gatewayv1.ListenerConditionResolvedRefs), ObservedGeneration: generation}
	var kinds []gatewayv1.RouteGroupKind
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		for _, k := range supported {
			kinds = append(kinds, routeGroupKind(k))
		}
	} else {
		var bad []string
		for _, k := range l.AllowedRoutes.Kinds {
			if i := slices.IndexFunc(supported, func(s string) bool { return isRouteKind(k, s) }); i >= 0 {
				kinds = append(kinds, routeGroupKind(supported[i]))
			} else {
				bad = append(bad, groupKindString(k.Group, k.Kind))
			}
		}
		if len(bad) > 0 {
			c.Status = metav1.ConditionFalse
			c.Reason = string(gatewayv1.ListenerReasonInvalidRouteKinds)
			c.Message = fmt.Sprintf("route kinds %s are not supported: a waypoint supports %s", strings.Join(bad, ", "), strings.Join(supported, " and "))
			return c, kinds
		}
	}
	c.Status = metav1.ConditionTrue
	c.Reason = string(gatewayv1.ListenerReasonResolvedRefs)
	c.Message = "all references resolved"
	return c, kinds
}

// listenerProgrammed is True when the listener is accepted and the
// Gateway as a whole is programmed (the Waypoint is ready).
func listenerProgrammed(accepted, gatewayProgrammed metav1.Condition, generation int64) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.ListenerConditionProgrammed), ObservedGeneration: generation}
	switch {
	case accepted.Status != metav1.ConditionTrue:
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.ListenerReasonInvalid)
		c.Message = "listener is not accepted: " + accepted.Message
	case gatewayProgrammed.Status != metav1.ConditionTrue:
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.ListenerReasonPending)
		c.Message = gatewayProgrammed.Message
	default:
		c.Status = metav1.ConditionTrue
		c.Reason = string(gatewayv1.ListenerReasonProgrammed)
		c.Message = gatewayProgrammed.Message
	}
	return c
}

// isRouteKind reports whether k names the Gateway API route kind kind.
func isRouteKind(k gatewayv1.RouteGroupKind, kind string) bool {
	group := gatewayv1.GroupName
	if k.Group != nil {
		group = string(*k.Group)
	}
	return group == gatewayv1.GroupName && string(k.Kind) == kind
}

func groupKindString(g *gatewayv1.Group, k gatewayv1.Kind) string {
	if g == nil || *g == "" {
		if g == nil {
			return string(k) + "." + gatewayv1.GroupName
		}
		return string(k)
	}
	return string(k) + "." + string(*g)
}
