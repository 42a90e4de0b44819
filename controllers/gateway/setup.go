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

// Setup registers the Gateway API reconcilers with mgr. GRPCRoutes are
// handled when the cluster serves them (GA from Gateway API 1.1).
func Setup(mgr ctrl.Manager) error {
	kinds := []routeKind{httpRoutes}
	grpc, err := served(mgr.GetRESTMapper(), kindGRPCRoute)
	if err != nil {
		return err
	}
	if grpc {
		kinds = append(kinds, grpcRoutes)
	} else {
		mgr.GetLogger().Info("GRPCRoutes (gateway.networking.k8s.io/v1) are not served: their status is not written; restart the manager after upgrading the Gateway API CRDs")
	}
	if err := registerIndexes(mgr, kinds); err != nil {
		return fmt.Errorf("registering route indexes: %w", err)
	}
	events := mgr.GetEventRecorder("gateway-api-controller")
	if err := (&GatewayClassReconciler{Client: mgr.GetClient(), features: SupportedFeatures(grpc)}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the GatewayClass controller: %w", err)
	}
	if err := (&GatewayReconciler{Client: mgr.GetClient(), Events: events, kinds: kinds}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Gateway controller: %w", err)
	}
	for _, k := range kinds {
		if err := (&RouteReconciler{Client: mgr.GetClient(), Events: events, kind: k, grpc: grpc}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", k.Kind, err)
		}
	}
	return nil
}
