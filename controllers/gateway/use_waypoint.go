package gateway

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// serviceWaypoint is the Waypoint a Service's traffic goes through, from its
// mesh.wayfabric.io/use-waypoint label or else its Namespace's. The Service
// label wins, including the value "none", which opts it out. It returns the
// Waypoint name ("" for none) and a sentence saying where that came from.
func serviceWaypoint(svcLabels, nsLabels map[string]string) (name, source string) {
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

// servicePortMismatch explains why a parentRef's sectionName (a port name)
// or port selects no port of svc, or returns "".
func servicePortMismatch(svc *corev1.Service, sectionName *string, port *int32) string {
	wantName := sectionName != nil && *sectionName != ""
	wantPort := port != nil && *port != 0
	if !wantName && !wantPort {
		return ""
	}
	for _, p := range svc.Spec.Ports {
		if (!wantName || p.Name == *sectionName) && (!wantPort || p.Port == *port) {
			return ""
		}
	}
	switch {
	case wantName && wantPort:
		return fmt.Sprintf("Service %s has no port named %q with number %d", svc.Name, *sectionName, *port)
	case wantName:
		return fmt.Sprintf("Service %s has no port named %q", svc.Name, *sectionName)
	default:
		return fmt.Sprintf("Service %s has no port %d", svc.Name, *port)
	}
}
