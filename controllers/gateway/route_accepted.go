package gateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// parentFacts is what a route's Accepted condition for one parent
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
	// ConsumerNamespace is the route's namespace when the Service is in
	// another: a consumer route, for that namespace's clients only.
	ConsumerNamespace string
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

	// Conflicted: GRPCRoutes (ConflictWith) bind every port this HTTPRoute
	// parentRef selects, and take precedence (GEP-1294). ConflictPorts lists
	// the ports they take when they bind only some.
	Conflicted    bool
	ConflictWith  string
	ConflictPorts []int32
}

// RouteReasonConflicted is GEP-1294's Accepted reason for a route that
// loses to a route of a more specific kind on the same Service port.
const RouteReasonConflicted = "Conflicted"

// routeAccepted is a route's Accepted condition for one parent.
func routeAccepted(f parentFacts) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.RouteConditionAccepted), ObservedGeneration: f.Generation, Status: metav1.ConditionFalse}
	noParent := string(gatewayv1.RouteReasonNoMatchingParent)
	switch {
	case !f.Found:
		c.Reason, c.Message = noParent, f.Parent+" does not exist"
	case f.IsService && f.NotClusterIP:
		c.Reason = noParent
		c.Message = f.Parent + " is headless or ExternalName: only ClusterIP Services can be route parents (GAMMA)"
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
	case f.Conflicted:
		c.Reason = RouteReasonConflicted
		c.Message = fmt.Sprintf("GRPCRoute %s binds the same %s; GRPCRoutes take precedence over HTTPRoutes there (GEP-1294)", f.ConflictWith, conflictScope(f))
	default:
		c.Status, c.Reason = metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted)
		c.Message = "accepted by " + f.Parent
		switch {
		case f.IsService && f.ConsumerNamespace != "":
			c.Message = fmt.Sprintf("accepted by %s through Waypoint %s, for clients in namespace %s only (consumer route)", f.Parent, f.Waypoint, f.ConsumerNamespace)
		case f.IsService:
			c.Message = fmt.Sprintf("accepted by %s through Waypoint %s", f.Parent, f.Waypoint)
		}
		c.Message += conflictNote(f)
	}
	return c
}

func conflictScope(f parentFacts) string {
	if f.IsService {
		return f.Parent + " port(s)"
	}
	return f.Parent
}
