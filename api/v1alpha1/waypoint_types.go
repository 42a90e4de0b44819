package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TrafficType says which traffic a waypoint processes.
// +kubebuilder:validation:Enum=service;workload;all
type TrafficType string

const (
	// TrafficService: traffic addressed to Services that use this waypoint.
	TrafficService TrafficType = "service"
	// TrafficWorkload: traffic addressed directly to Pods that use this waypoint.
	TrafficWorkload TrafficType = "workload"
	// TrafficAll: both.
	TrafficAll TrafficType = "all"
)

// WaypointSpec is the desired state of a waypoint fleet.
type WaypointSpec struct {
	// For selects the traffic this waypoint processes: traffic to Services
	// (the default), traffic sent straight to Pods, or both.
	// +kubebuilder:default=service
	// +optional
	For TrafficType `json:"for,omitempty"`

	// Version is the waypoint proxy release, for example v0.1.0. Changing it
	// rolls the fleet out to the new release without dropping requests.
	// Defaults to the operator's own release.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+(-[0-9A-Za-z.-]+)?$')",message="version must be a release such as v1.2.3 or v1.2.3-rc.1"
	// +optional
	Version string `json:"version,omitempty"`

	// Image overrides the proxy image (the operator's RELATED_IMAGE_WAYPOINT
	// with the tag set to version). Use it for mirrors and private builds.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="image must not contain spaces"
	// +optional
	Image string `json:"image,omitempty"`

	// Replicas is the number of waypoint pods when horizontal autoscaling is
	// off; `kubectl scale waypoint` sets it. Ignored while autoscaling is on.
	// +kubebuilder:default=1
	// +kubebuilder:validation:XValidation:rule="self >= 0",message="replicas must not be negative"
	// +kubebuilder:validation:XValidation:rule="self <= 1000",message="replicas must be at most 1000"
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources are the initial requests and limits of each waypoint pod. The
	// vertical autoscaler adjusts the requests when its mode is InPlace or Rolling.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Autoscaling configures horizontal and vertical autoscaling from the HTTP
	// load the waypoint observes.
	// +optional
	Autoscaling *WaypointAutoscaling `json:"autoscaling,omitempty"`

	// Upgrade controls rollouts (version changes, template changes).
	// +optional
	Upgrade *WaypointUpgrade `json:"upgrade,omitempty"`

	// NodeSelector constrains waypoint pods to nodes with these labels.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let waypoint pods run on tainted nodes.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// TopologySpreadConstraints replace the default placement: a
	// ScheduleAnyway spread across nodes plus a preferred anti-affinity
	// across zones (ignored where nodes have no zone label).
	// +kubebuilder:validation:MaxItems=8
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
}

// WaypointAutoscaling configures both autoscalers.
type WaypointAutoscaling struct {
	// Horizontal scales the number of replicas from per-replica concurrency or
	// requests per second (never CPU utilisation, so it never fights Vertical).
	// +optional
	Horizontal *HorizontalAutoscaling `json:"horizontal,omitempty"`

	// Vertical sizes each replica's CPU and memory requests from its usage.
	// +optional
	Vertical *VerticalAutoscaling `json:"vertical,omitempty"`
}

// ScalingMetric is the per-replica load signal the horizontal autoscaler tracks.
// +kubebuilder:validation:Enum=Concurrency;RequestsPerSecond
type ScalingMetric string

const (
	// MetricConcurrency: requests in flight per replica.
	MetricConcurrency ScalingMetric = "Concurrency"
	// MetricRequestsPerSecond: requests completed per second per replica.
	MetricRequestsPerSecond ScalingMetric = "RequestsPerSecond"
)

// HorizontalAutoscaling is a KPA-style autoscaler with a stable and a panic window.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="autoscaling.horizontal.minReplicas must not exceed maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.panicWindow) || !has(self.stableWindow) || duration(self.panicWindow) < duration(self.stableWindow)",message="autoscaling.horizontal.panicWindow must be shorter than stableWindow"
// +kubebuilder:validation:XValidation:rule="!has(self.scaleUp) || !has(self.scaleUp.stabilizationWindow) || duration(self.scaleUp.stabilizationWindow) == duration('0s')",message="autoscaling.horizontal.scaleUp.stabilizationWindow must be 0s: scale-ups are never delayed (the panic window already tells bursts from noise); use scaleUp.maxPods or maxPercent to slow them"
type HorizontalAutoscaling struct {
	// Enabled turns horizontal autoscaling on; when off, spec.replicas applies.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// MinReplicas is the floor; the autoscaler never goes below it.
	// +kubebuilder:default=1
	// +kubebuilder:validation:XValidation:rule="self >= 1",message="autoscaling.horizontal.minReplicas must be at least 1"
	// +optional
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the ceiling; the autoscaler never goes above it.
	// +kubebuilder:default=10
	// +kubebuilder:validation:XValidation:rule="self <= 1000",message="autoscaling.horizontal.maxReplicas must be at most 1000"
	// +optional
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// Metric is the per-replica signal: Concurrency (requests in flight) or
	// RequestsPerSecond.
	// +kubebuilder:default=Concurrency
	// +optional
	Metric ScalingMetric `json:"metric,omitempty"`

	// Target is the per-replica value of Metric the autoscaler aims for.
	// +kubebuilder:default=100
	// +kubebuilder:validation:XValidation:rule="self >= 1",message="autoscaling.horizontal.target must be at least 1"
	// +optional
	Target int32 `json:"target,omitempty"`

	// TargetUtilizationPercent is the share of Target to run at, leaving
	// headroom for bursts while new replicas start.
	// +kubebuilder:default=70
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 100",message="autoscaling.horizontal.targetUtilizationPercent must be between 1 and 100"
	// +optional
	TargetUtilizationPercent int32 `json:"targetUtilizationPercent,omitempty"`

	// StableWindow is the averaging window for normal decisions.
	// +kubebuilder:default="60s"
	// +optional
	StableWindow *metav1.Duration `json:"stableWindow,omitempty"`

	// PanicWindow is the short window that reacts to bursts.
	// +kubebuilder:default="6s"
	// +optional
	PanicWindow *metav1.Duration `json:"panicWindow,omitempty"`

	// PanicThresholdPercent: when load over the panic window exceeds this
	// percentage of current capacity, the autoscaler scales on the panic window
	// and does not scale down until the panic ends.
	// +kubebuilder:default=200
	// +kubebuilder:validation:XValidation:rule="self > 100 && self <= 1000",message="autoscaling.horizontal.panicThresholdPercent must be above 100 and at most 1000"
	// +optional
	PanicThresholdPercent int32 `json:"panicThresholdPercent,omitempty"`

	// ScaleUp limits how fast replicas are added.
	// +kubebuilder:default={stabilizationWindow: "0s", maxPercent: 1000, maxPods: 10, period: "1s"}
	// +optional
	ScaleUp ScalingRules `json:"scaleUp,omitempty"`

	// ScaleDown limits how fast replicas are removed; the stabilization window
	// keeps the highest recommendation seen within it.
	// +kubebuilder:default={stabilizationWindow: "300s", maxPercent: 50, maxPods: 10, period: "60s"}
	// +optional
	ScaleDown ScalingRules `json:"scaleDown,omitempty"`
}

// ScalingRules bound how fast the replica count changes in one direction.
// Per Period the count may change by max(MaxPods, MaxPercent of current).
type ScalingRules struct {
	// StabilizationWindow: scale-down acts on the highest recommendation seen
	// within it, to prevent flapping. Scale-ups are never delayed, so for
	// scaleUp it must be 0s.
	// +optional
	StabilizationWindow *metav1.Duration `json:"stabilizationWindow,omitempty"`

	// MaxPercent of the current replicas that may be added or removed per Period.
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 10000",message="maxPercent must be between 1 and 10000"
	// +optional
	MaxPercent *int32 `json:"maxPercent,omitempty"`

	// MaxPods that may be added or removed per Period.
	// +kubebuilder:validation:XValidation:rule="self >= 1",message="maxPods must be at least 1"
	// +optional
	MaxPods *int32 `json:"maxPods,omitempty"`

	// Period over which MaxPercent and MaxPods apply.
	// +optional
	Period *metav1.Duration `json:"period,omitempty"`
}

// VerticalMode says what the vertical autoscaler does with its recommendation.
// +kubebuilder:validation:Enum=Off;Recommend;InPlace;Rolling
type VerticalMode string

const (
	// VerticalOff: no recommendation is computed.
	VerticalOff VerticalMode = "Off"
	// VerticalRecommend: the recommendation is written to status only.
	VerticalRecommend VerticalMode = "Recommend"
	// VerticalInPlace: running pods are resized through pods/resize, one at a
	// time, and the Deployment template is updated to match.
	VerticalInPlace VerticalMode = "InPlace"
	// VerticalRolling: the Deployment template is updated and rolled out.
	VerticalRolling VerticalMode = "Rolling"
)

// VerticalAutoscaling sizes each replica's CPU and memory requests.
// +kubebuilder:validation:XValidation:rule="!has(self.minAllowed) || !has(self.maxAllowed) || !has(self.minAllowed.cpu) || !has(self.maxAllowed.cpu) || quantity(self.minAllowed.cpu).compareTo(quantity(self.maxAllowed.cpu)) <= 0",message="autoscaling.vertical.minAllowed.cpu must not exceed maxAllowed.cpu"
// +kubebuilder:validation:XValidation:rule="!has(self.minAllowed) || !has(self.maxAllowed) || !has(self.minAllowed.memory) || !has(self.maxAllowed.memory) || quantity(self.minAllowed.memory).compareTo(quantity(self.maxAllowed.memory)) <= 0",message="autoscaling.vertical.minAllowed.memory must not exceed maxAllowed.memory"
type VerticalAutoscaling struct {
	// Mode: Off, Recommend (status only), InPlace (resize running pods) or
	// Rolling (zero-downtime rollout with the new requests).
	// +kubebuilder:default=Recommend
	// +optional
	Mode VerticalMode `json:"mode,omitempty"`

	// MinAllowed is the smallest request the autoscaler may set.
	// +optional
	MinAllowed *ResourceBounds `json:"minAllowed,omitempty"`

	// MaxAllowed is the largest request the autoscaler may set.
	// +optional
	MaxAllowed *ResourceBounds `json:"maxAllowed,omitempty"`

	// MinInterval is the least time between two applied changes.
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="autoscaling.vertical.minInterval must be at least 1m"
	// +optional
	MinInterval *metav1.Duration `json:"minInterval,omitempty"`
}

// ResourceBounds is a CPU and memory amount; the vertical autoscaler manages
// only these two resources.
type ResourceBounds struct {
	// CPU in cores, for example 100m or 2.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self)",message="cpu must be a quantity such as 100m or 2"
	// +optional
	CPU string `json:"cpu,omitempty"`
	// Memory in bytes, for example 64Mi or 2Gi.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self)",message="memory must be a quantity such as 64Mi or 2Gi"
	// +optional
	Memory string `json:"memory,omitempty"`
}

// WaypointUpgrade controls how a waypoint fleet rolls out. maxUnavailable is
// always 0: a waypoint never gives up capacity during a rollout.
type WaypointUpgrade struct {
	// MaxSurge is how many extra pods a rollout may start at once.
	// +kubebuilder:default="25%"
	// +kubebuilder:validation:XValidation:rule="self != 0 && self != '0%'",message="upgrade.maxSurge must be positive: waypoints roll out with maxUnavailable 0, so a zero surge could never make progress"
	// +optional
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`

	// DrainSeconds is how long a stopping waypoint keeps serving in-flight
	// requests after it has left the load balancer.
	// +kubebuilder:default=30
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 3600",message="upgrade.drainSeconds must be between 0 and 3600"
	// +optional
	DrainSeconds *int32 `json:"drainSeconds,omitempty"`
}

// WaypointLoad is the load observed across the ready replicas.
type WaypointLoad struct {
	// RequestsPerSecond across all replicas, over the last 10 seconds.
	// +optional
	RequestsPerSecond int64 `json:"requestsPerSecond"`
	// Concurrency is the number of requests in flight across all replicas,
	// averaged over the report window.
	// +optional
	Concurrency *resource.Quantity `json:"concurrency,omitempty"`
	// P50Latency of requests, the worst of the replicas.
	// +optional
	P50Latency *metav1.Duration `json:"p50Latency,omitempty"`
	// P99Latency of requests, the worst of the replicas.
	// +optional
	P99Latency *metav1.Duration `json:"p99Latency,omitempty"`
	// CPUPerReplica is the average CPU usage of one replica.
	// +optional
	CPUPerReplica *resource.Quantity `json:"cpuPerReplica,omitempty"`
	// MemoryPerReplica is the average resident memory of one replica.
	// +optional
	MemoryPerReplica *resource.Quantity `json:"memoryPerReplica,omitempty"`
	// ReportingReplicas is how many replicas answered the last collection.
	// +optional
	ReportingReplicas int32 `json:"reportingReplicas"`
	// ObservedAt is when this load was collected.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// VerticalRecommendation is the vertical autoscaler's per-replica advice.
type VerticalRecommendation struct {
	// Target is the recommended request.
	Target corev1.ResourceList `json:"target,omitempty"`
	// LowerBound: below it the replica is considered under-provisioned.
	// +optional
	LowerBound corev1.ResourceList `json:"lowerBound,omitempty"`
	// UpperBound: above it the replica is considered over-provisioned.
	// +optional
	UpperBound corev1.ResourceList `json:"upperBound,omitempty"`
	// Applied are the requests last applied to the pods (InPlace or Rolling
	// mode). The Deployment template follows Applied, not Target, so a drifting
	// recommendation does not roll the fleet on every change.
	// +optional
	Applied corev1.ResourceList `json:"applied,omitempty"`
	// LastApplied is when a recommendation was last applied to the pods.
	// +optional
	LastApplied *metav1.Time `json:"lastApplied,omitempty"`
}

// WaypointStatus is the observed state of a waypoint fleet.
type WaypointStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas is the number of waypoint pods (the scale subresource reads it).
	// +optional
	Replicas int32 `json:"replicas"`
	// ReadyReplicas is the number of pods ready to serve.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
	// UpdatedReplicas is the number of pods running the desired template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// DesiredReplicas is what the operator asks the Deployment for: spec.replicas
	// or the horizontal autoscaler's decision.
	// +optional
	DesiredReplicas int32 `json:"desiredReplicas"`
	// Selector is the label selector of the pods, as a string (scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`
	// Version is the release the fleet runs (or is rolling out to).
	// +optional
	Version string `json:"version,omitempty"`
	// Load is the last observed load.
	// +optional
	Load *WaypointLoad `json:"load,omitempty"`
	// Recommendation is the vertical autoscaler's last recommendation.
	// +optional
	Recommendation *VerticalRecommendation `json:"recommendation,omitempty"`
	// Conditions: Ready, Progressing, Degraded, ScalingActive, ScalingLimited.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Waypoint is a fleet of remote L7 proxies that terminate HBONE, apply HTTP
// routing and policy, and forward over HBONE.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=wp,categories=wayfabric
// +kubebuilder:printcolumn:name="For",type=string,JSONPath=`.spec.for`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredReplicas`
// +kubebuilder:printcolumn:name="RPS",type=integer,JSONPath=`.status.load.requestsPerSecond`
// +kubebuilder:printcolumn:name="P99",type=string,JSONPath=`.status.load.p99Latency`
// +kubebuilder:printcolumn:name="CPU/replica",type=string,JSONPath=`.status.load.cpuPerReplica`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Waypoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WaypointSpec   `json:"spec,omitempty"`
	Status WaypointStatus `json:"status,omitempty"`
}

// WaypointList is a list of Waypoints.
// +kubebuilder:object:root=true
type WaypointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Waypoint `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Waypoint{}, &WaypointList{})
}
