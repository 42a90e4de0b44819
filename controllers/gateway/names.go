package gateway

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
)

const (
	// LabelWaypointFor on a Gateway selects the Waypoint's spec.for (service,
	// workload or all); Wayfabric's equivalent of istio.io/waypoint-for.
	LabelWaypointFor = "mesh.wayfabric.io/waypoint-for"

	// ProtocolHBONE is the listener protocol of a waypoint Gateway.
	ProtocolHBONE gatewayv1.ProtocolType = "HBONE"
	// PortHBONE is the only port a waypoint listens on for mesh traffic.
	PortHBONE gatewayv1.PortNumber = mesh.PortHBONE

	// meshGroup is the API group of Waypoint, used in parentRefs.
	meshGroup     = "mesh.wayfabric.io"
	kindWaypoint  = "Waypoint"
	kindService   = "Service"
	kindGateway   = "Gateway"
	kindHTTPRoute = "HTTPRoute"
	kindGRPCRoute = "GRPCRoute"
)

// routeGroupKind names a Gateway API route kind in listener status.
func routeGroupKind(kind string) gatewayv1.RouteGroupKind {
	return gatewayv1.RouteGroupKind{Group: new(gatewayv1.Group(gatewayv1.GroupName)), Kind: gatewayv1.Kind(kind)}
}
