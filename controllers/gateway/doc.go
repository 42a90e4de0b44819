// Package gateway implements the Gateway API side of Wayfabric: the
// wayfabric-waypoint GatewayClass, Gateways mirrored to Waypoints, and
// HTTPRoute status for GAMMA and Waypoint parents.
package gateway

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// ControllerName is the GatewayClass controllerName Wayfabric implements.
const ControllerName = "mesh.wayfabric.io/waypoint-controller"

// GatewayClassName is the GatewayClass whose Gateways become Waypoints.
const GatewayClassName = "wayfabric-waypoint"

// Setup registers the Gateway API reconcilers with mgr.
func Setup(mgr ctrl.Manager) error {
	if err := registerIndexes(mgr); err != nil {
		return fmt.Errorf("registering HTTPRoute indexes: %w", err)
	}
	events := mgr.GetEventRecorder("gateway-api-controller")
	if err := (&GatewayClassReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the GatewayClass controller: %w", err)
	}
	if err := (&GatewayReconciler{Client: mgr.GetClient(), Events: events}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Gateway controller: %w", err)
	}
	if err := (&HTTPRouteReconciler{Client: mgr.GetClient(), Events: events}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the HTTPRoute controller: %w", err)
	}
	return nil
}
