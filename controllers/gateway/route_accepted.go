package gateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// parentFacts is what an HTTPRoute's Accepted condition for one parent
// depends on. The reconciler gathers them; routeAccepted decides.
type parentFacts struct {
	Generation int64
	// Parent names the parent for messages, e.g. `Service default/reviews`.
	Parent string
	Found  bool

	// Service parents (GAMMA).
	IsService bool
	// NotClusterIP: headless or ExternalName; GAMMA binds ClusterIP Services only.
	NotClusterIP bool
	// ConsumerRoute: the Service is in another namespace than the route.
	ConsumerRoute bool
	// Waypoint the Service uses ("" when none) and where that was decided.
	Waypoint, WaypointSource string
	WaypointFound            bool
	// WorkloadOnly: the Waypoint has spec.for=workload, so it never sees
	// traffic addressed to the Service.
	WorkloadOnly bool

	// SectionMismatch explains a sectionName/port that selects nothing.
	SectionMismatch string
	// Allowed is false when no selected listener's allowedRoutes admits the route.
	Allowed bool
	// NotAllowedWhy explains Allowed=false.
	NotAllowedWhy string
}

// routeAccepted is an HTTPRoute's Accepted condition for one parent.
func routeAccepted(f parentFacts) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.RouteConditionAccepted), ObservedGeneration: f.Generation, Status: metav1.ConditionFalse}
	noParent := string(gatewayv1.RouteReasonNoMatchingParent)
	switch {
	case !f.Found:
		c.Reason, c.Message = noParent, f.Parent+" does not exist"
	case f.IsService && f.NotClusterIP:
		c.Reason = noParent
		c.Message = f.Parent + " is headless or ExternalName: only ClusterIP Services can be route parents (GAMMA)"
	case f.IsService && f.ConsumerRoute:
		// Consumer routes apply to one client namespace only; a waypoint sits
		// in front of the Service for every client and cannot scope them.
		c.Reason = string(gatewayv1.RouteReasonUnsupportedValue)
		c.Message = fmt.Sprintf("%s is in another namespace: consumer routes are not supported by waypoints; create the route in the Service's namespace", f.Parent)
	case f.IsService && f.Waypoint == "":
		c.Reason = noParent
		c.Message = fmt.Sprintf("%s does not use a waypoint: %s", f.Parent, f.WaypointSource)
	case f.IsService && !f.WaypointFound:
		c.Reason = noParent
		c.Message = fmt.Sprintf("%s uses Waypoint %q (from %s), which does not exist", f.Parent, f.Waypoint, f.WaypointSource)
	case f.IsService && f.WorkloadOnly:
		c.Reason = noParent
		c.Message = fmt.Sprintf("%s uses Waypoint %q, which only processes workload traffic (spec.for=workload); set it to service or all", f.Parent, f.Waypoint)
	case f.SectionMismatch != "":
		c.Reason, c.Message = noParent, f.SectionMismatch
	case !f.Allowed:
		c.Reason, c.Message = string(gatewayv1.RouteReasonNotAllowedByListeners), f.NotAllowedWhy
	default:
		c.Status, c.Reason = metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted)
		c.Message = "accepted by " + f.Parent
		if f.IsService {
			c.Message = fmt.Sprintf("accepted by %s through Waypoint %s", f.Parent, f.Waypoint)
		}
	}
	return c
}
