// Package gateway implements the Gateway API side of Wayfabric: the
// wayfabric-waypoint GatewayClass, Gateways mirrored to Waypoints, and
// HTTPRoute and GRPCRoute status for GAMMA and Waypoint parents.
package gateway

// ControllerName is the GatewayClass controllerName Wayfabric implements.
const ControllerName = "mesh.wayfabric.io/waypoint-controller"

// GatewayClassName is the GatewayClass whose Gateways become Waypoints.
const GatewayClassName = "wayfabric-waypoint"
