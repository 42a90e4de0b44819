// Package usewaypoint resolves which Waypoint a Service's traffic goes
// through, from the mesh.wayfabric.io/use-waypoint labels, the same way for
// every controller that needs it (route status, policy status).
package usewaypoint

import (
	"fmt"

	"github.com/wayfabric/wayfabric/api/mesh"
)

// ForService is the Waypoint a Service's traffic goes through, by the mesh's
// one resolution rule (mesh.UseWaypoint: the Service's label wins over its
// Namespace's, "none" opts out). It returns the Waypoint name ("" for none)
// and a sentence saying where that came from.
func ForService(svcLabels, nsLabels map[string]string) (name, source string) {
	name, from := mesh.UseWaypoint(nil, svcLabels, nsLabels)
	whose := map[mesh.Source]string{mesh.FromService: "the Service", mesh.FromNamespace: "its Namespace"}[from]
	switch {
	case from == "":
		return "", fmt.Sprintf("neither the Service nor its Namespace has the label %s", mesh.LabelUseWaypoint)
	case name == "":
		return "", fmt.Sprintf("%s opts out with label %s=%s", whose, mesh.LabelUseWaypoint, mesh.UseWaypointNone)
	}
	return name, whose + "'s label " + mesh.LabelUseWaypoint
}
