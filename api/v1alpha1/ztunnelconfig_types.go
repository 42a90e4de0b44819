package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// CaptureMode says how a ztunnel intercepts the traffic of enrolled pods.
// +kubebuilder:validation:Enum=InPod
type CaptureMode string

// CaptureInPod: redirect rules and listeners live inside each enrolled pod's
// network namespace, so node networking is untouched.
const CaptureInPod CaptureMode = "InPod"

// ZtunnelConfigSpec is the desired state of the ztunnels on a set of nodes.
type ZtunnelConfigSpec struct {
	// Version is the ztunnel release, for example v0.1.0. Changing it rolls the
	// DaemonSet node by node without failing new connections.
	// Defaults to the operator's own release.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+(-[0-9A-Za-z.-]+)?$')",message="version must be a release such as v1.2.3 or v1.2.3-rc.1"
	// +optional
	Version string `json:"version,omitempty"`

	// Image overrides the ztunnel image (the operator's RELATED_IMAGE_ZTUNNEL
	// with the tag set to version).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="image must not contain spaces"
	// +optional
	Image string `json:"image,omitempty"`

	// NodeSelector picks the nodes this configuration applies to; empty means
	// every node. Selectors of different ZtunnelConfigs must not overlap.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let ztunnels run on tainted nodes. The default tolerates
	// every taint, as a node agent must.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Resources of each ztunnel pod.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// TrustDomain of the mesh identities, the host part of
	// spiffe://<trust-domain>/ns/<ns>/sa/<sa>.
	// +kubebuilder:default="cluster.local"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$')",message="trustDomain must be a DNS-like name of lower-case letters, digits, dots and dashes, such as cluster.local"
	// +optional
	TrustDomain string `json:"trustDomain,omitempty"`

	// Capture configures transparent traffic capture in enrolled pods.
	// +optional
	Capture *CaptureSettings `json:"capture,omitempty"`

	// CNI says where the nodes' container runtime keeps its CNI plugins and
	// network configuration. The ztunnel installs its chained CNI plugin
	// there (new pods are captured before they start) and removes it when
	// this ZtunnelConfig is deleted.
	// +optional
	CNI *CNISettings `json:"cni,omitempty"`

	// ExcludedNamespaces are never enrolled, whatever their labels say.
	// +kubebuilder:default={"kube-system"}
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// Upgrade controls DaemonSet rollouts.
	// +optional
	Upgrade *ZtunnelUpgrade `json:"upgrade,omitempty"`

	// LogLevel of the ztunnels.
	// +kubebuilder:default=info
	// +optional
	LogLevel LogLevel `json:"logLevel,omitempty"`
}

// CaptureSettings configure in-pod capture.
type CaptureSettings struct {
	// Mode of capture; InPod is the only mode.
	// +kubebuilder:default=InPod
	// +optional
	Mode CaptureMode `json:"mode,omitempty"`

	// ExcludeInboundPorts are delivered to the pod without going through ztunnel.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +listType=set
	// +optional
	ExcludeInboundPorts []int32 `json:"excludeInboundPorts,omitempty"`

	// ExcludeOutboundPorts leave the pod without going through ztunnel.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +listType=set
	// +optional
	ExcludeOutboundPorts []int32 `json:"excludeOutboundPorts,omitempty"`

	// ExcludeOutboundCIDRs leave the pod without going through ztunnel.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="capture.excludeOutboundCIDRs must be CIDRs such as 10.0.0.0/8 or fd00::/8"
	// +listType=set
	// +optional
	ExcludeOutboundCIDRs []string `json:"excludeOutboundCIDRs,omitempty"`
}

// CNISettings are host paths of the node's CNI setup.
type CNISettings struct {
	// BinDir holds the CNI plugin binaries (the runtime's bin_dir).
	// +kubebuilder:default="/opt/cni/bin"
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/') && !self.contains('..')",message="cni.binDir must be an absolute path without '..'"
	// +optional
	BinDir string `json:"binDir,omitempty"`
	// ConfDir holds the CNI network configuration (the runtime's conf_dir).
	// +kubebuilder:default="/etc/cni/net.d"
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/') && !self.contains('..')",message="cni.confDir must be an absolute path without '..'"
	// +optional
	ConfDir string `json:"confDir,omitempty"`
}

// ZtunnelUpgrade controls how the ztunnel DaemonSet rolls out. The default
// (surge 1, unavailable 0) starts the new ztunnel next to the old one, which
// hands over its listeners and drains.
// +kubebuilder:validation:XValidation:rule="!((self.maxSurge == 0 || self.maxSurge == '0%') && (self.maxUnavailable == 0 || self.maxUnavailable == '0%'))",message="upgrade.maxSurge and upgrade.maxUnavailable must not both be zero: the rollout could never make progress"
type ZtunnelUpgrade struct {
	// MaxSurge is how many nodes may run a new ztunnel next to the old one at once.
	// +kubebuilder:default=1
	// +optional
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`

	// MaxUnavailable is how many nodes may be without a ready ztunnel during a rollout.
	// +kubebuilder:default=0
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// DrainSeconds is how long an old ztunnel keeps its open connections after
	// the new one took over its listeners.
	// +kubebuilder:default=30
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 3600",message="upgrade.drainSeconds must be between 0 and 3600"
	// +optional
	DrainSeconds *int32 `json:"drainSeconds,omitempty"`
}

// ZtunnelConfigStatus is the observed state of the ztunnels.
type ZtunnelConfigStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// DesiredNodes is the number of nodes that should run a ztunnel.
	// +optional
	DesiredNodes int32 `json:"desiredNodes"`
	// ReadyNodes is the number of nodes whose ztunnel is ready.
	// +optional
	ReadyNodes int32 `json:"readyNodes"`
	// UpdatedNodes is the number of nodes running the desired template.
	// +optional
	UpdatedNodes int32 `json:"updatedNodes"`
	// CapturedPods is the number of pods the ready ztunnels capture, as each
	// reports on its status endpoint (refreshed about every 30 s).
	// +optional
	CapturedPods int32 `json:"capturedPods"`
	// Version is the release the ztunnels run (or are rolling out to).
	// +optional
	Version string `json:"version,omitempty"`
	// Versions counts the nodes per ztunnel release actually running: one
	// entry normally, two while a rollout or a rollback is under way. A
	// node in the middle of its handover counts for both.
	// +listType=map
	// +listMapKey=version
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Versions []ZtunnelVersionStatus `json:"versions,omitempty"`
	// Conditions: Ready, Progressing, Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ZtunnelVersionStatus is what the ztunnels of one release do.
type ZtunnelVersionStatus struct {
	// Version is the release (the version label of the ztunnel pods).
	// +kubebuilder:validation:MaxLength=64
	Version string `json:"version"`
	// Nodes running a ztunnel pod of this version that is not being deleted.
	Nodes int32 `json:"nodes"`
	// ReadyNodes are the nodes whose ztunnel of this version is ready.
	ReadyNodes int32 `json:"readyNodes"`
	// CapturedPods is the sum of the pods these ready ztunnels capture.
	CapturedPods int32 `json:"capturedPods"`
}

// ZtunnelConfig deploys the per-node L4 proxies (one DaemonSet) to the nodes
// its selector picks.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ztc,categories=wayfabric
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.desiredNodes`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyNodes`
// +kubebuilder:printcolumn:name="Updated",type=integer,JSONPath=`.status.updatedNodes`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.capturedPods`,priority=1,description="Pods captured by the ready ztunnels"
// +kubebuilder:printcolumn:name="Degraded",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].reason`,priority=1,description="Reason of the Degraded condition"
type ZtunnelConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ZtunnelConfigSpec   `json:"spec,omitempty"`
	Status ZtunnelConfigStatus `json:"status,omitempty"`
}

// ZtunnelConfigList is a list of ZtunnelConfigs.
// +kubebuilder:object:root=true
type ZtunnelConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ZtunnelConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ZtunnelConfig{}, &ZtunnelConfigList{})
}
