package v1alpha1

import "github.com/wayfabric/wayfabric/api/mesh"

// Condition types shared by Waypoint and ZtunnelConfig.
const (
	// ConditionReady is True when every desired replica (or node) runs the
	// desired version and is ready.
	ConditionReady = "Ready"
	// ConditionProgressing is True while a rollout or scale operation is under way.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the operator cannot reach the desired state
	// (invalid configuration, conflicting objects, failed API writes, stuck rollout).
	ConditionDegraded = "Degraded"
	// ConditionScalingActive is True when the autoscaler has the load data it
	// needs to make decisions for a Waypoint.
	ConditionScalingActive = "ScalingActive"
	// ConditionScalingLimited is True when the desired replica count was capped
	// by minReplicas, maxReplicas or a rate limit.
	ConditionScalingLimited = "ScalingLimited"
)

// Labels that enroll workloads in the mesh and select waypoints; package
// api/mesh defines them (with their resolution rules) for the data plane too.
const (
	// LabelDataplaneMode on a Namespace or Pod enrolls it in the mesh (value "ambient").
	LabelDataplaneMode = mesh.LabelDataplaneMode
	// DataplaneModeAmbient is the value of LabelDataplaneMode that enrolls a workload.
	DataplaneModeAmbient = mesh.DataplaneModeAmbient
	// LabelUseWaypoint on a Namespace, Service or Pod names the waypoint its
	// traffic goes through; the Service or Pod label wins over the Namespace.
	LabelUseWaypoint = mesh.LabelUseWaypoint
	// UseWaypointNone opts a Service or Pod out of a namespace-wide waypoint.
	UseWaypointNone = mesh.UseWaypointNone
)

// LogLevel is the verbosity of a proxy's log.
// +kubebuilder:validation:Enum=error;warn;info;debug;trace
type LogLevel string
