// Package usewaypoint resolves which Waypoint a Service's traffic goes
// through, from the mesh.wayfabric.io/use-waypoint labels, the same way for
// every controller that needs it (route status, policy status).
package usewaypoint

import (
	"fmt"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// ForService is the Waypoint a Service's traffic goes through, from its
// mesh.wayfabric.io/use-waypoint label or else its Namespace's. The Service
// label wins, including the value "none", which opts it out. It returns the
// Waypoint name ("" for none) and a sentence saying where that came from.
func ForService(svcLabels, nsLabels map[string]string) (name, source string) {
	switch v := svcLabels[meshv1alpha1.LabelUseWaypoint]; v {
	case meshv1alpha1.UseWaypointNone:
		return "", fmt.Sprintf("the Service opts out with label %s=%s", meshv1alpha1.LabelUseWaypoint, v)
	case "":
	default:
		return v, "the Service's label " + meshv1alpha1.LabelUseWaypoint
	}
	switch v := nsLabels[meshv1alpha1.LabelUseWaypoint]; v {
	case meshv1alpha1.UseWaypointNone:
		return "", fmt.Sprintf("its Namespace opts out with label %s=%s", meshv1alpha1.LabelUseWaypoint, v)
	case "":
	default:
		return v, "its Namespace's label " + meshv1alpha1.LabelUseWaypoint
	}
	return "", fmt.Sprintf("neither the Service nor its Namespace has the label %s", meshv1alpha1.LabelUseWaypoint)
}
