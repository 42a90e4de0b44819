package gateway

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/wayfabric/wayfabric/controllers/internal/usewaypoint"
)

// serviceWaypoint is the Waypoint a Service's traffic goes through; see
// usewaypoint.ForService.
func serviceWaypoint(svcLabels, nsLabels map[string]string) (name, source string) {
	return usewaypoint.ForService(svcLabels, nsLabels)
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
