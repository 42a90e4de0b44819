// Package autoscaling runs the waypoint autoscaler in the manager: about once
// a second it collects the load of every autoscaled Waypoint
// (package collector), feeds the pure horizontal and vertical policies, and
// writes their decisions to the Waypoint's status with server-side apply
// (field manager "wayfabric-autoscaler"), with an event for each change of
// desired replicas and Prometheus metrics. The Waypoint reconciler turns
// status.desiredReplicas and status.recommendation.applied into the
// Deployment; this package resizes running pods in place (mode InPlace).
//
// See docs/autoscaler-controller.md.
package autoscaling
