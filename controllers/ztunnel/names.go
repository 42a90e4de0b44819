package ztunnel

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// FieldOwner is the server-side-apply field manager of everything this
// reconciler writes, status included.
const FieldOwner = "wayfabric-ztunnel"

// LabelConfig names the ZtunnelConfig a ztunnel pod belongs to.
const LabelConfig = "mesh.wayfabric.io/ztunnel-config"

// Ports of a ztunnel pod (the mesh's port contract, package api/mesh).
const (
	PortOutbound  = mesh.PortOutbound
	PortInbound   = mesh.PortInbound
	PortHBONE     = mesh.PortHBONE
	PortMetrics   = mesh.PortStats
	PortReadiness = mesh.PortReadiness
	ReadinessPath = mesh.ReadinessPath
)

const (
	// DefaultNamespace holds the ztunnels when Reconciler.Namespace is
	// empty (the namespace config/default uses).
	DefaultNamespace    = meta.DefaultNamespace
	defaultDrainSeconds = 30
	terminationMargin   = 5
	containerName       = "ztunnel"
	tokenAudience       = "wayfabric"
	tokenPath           = "/var/run/secrets/wayfabric/tokens"
	configDir           = "/etc/ztunnel"
	configKey           = "config.yaml"
	// SocketDir is the host directory where the ztunnel and its CNI plugin
	// meet (UNIX sockets, the plugin's log); mounted at the same path.
	SocketDir = "/var/run/wayfabric"
	// procMount is where the host's /proc is mounted: running pods'
	// network namespaces are found there when a ztunnel adopts them.
	procMount       = "/host/proc"
	cniBinMount     = "/host/cni/bin"
	cniConfMount    = "/host/cni/net.d"
	trustBundlePath = "/var/run/secrets/wayfabric/ca"
	// DefaultCNIBinDir and DefaultCNIConfDir are the CNI conventions most
	// runtimes and distributions follow (spec.cni overrides them).
	DefaultCNIBinDir  = "/opt/cni/bin"
	DefaultCNIConfDir = "/etc/cni/net.d"
)

// namespaceOr returns ns, else DefaultNamespace.
func namespaceOr(ns string) string { return meta.OperatorNamespace(ns) }

// Name of every namespaced child of a ZtunnelConfig.
func Name(zc *meshv1alpha1.ZtunnelConfig) string { return mesh.NodeProxyAccountPrefix + zc.Name }

// clusterName of the ClusterRole and binding, prefixed because cluster-scoped
// names are shared with everything else in the cluster.
func clusterName(zc *meshv1alpha1.ZtunnelConfig) string { return "wayfabric-ztunnel-" + zc.Name }

// selectorLabels select a config's ztunnel pods; immutable in the DaemonSet.
func selectorLabels(zc *meshv1alpha1.ZtunnelConfig) map[string]string {
	return map[string]string{meta.LabelName: "ztunnel", LabelConfig: zc.Name}
}

func objectLabels(zc *meshv1alpha1.ZtunnelConfig) map[string]string {
	return meta.Merge(selectorLabels(zc), map[string]string{
		meta.LabelInstance:  zc.Name,
		meta.LabelManagedBy: meta.ManagedBy,
		meta.LabelPartOf:    "wayfabric",
	})
}

// podLabels: a ztunnel never captures itself; the version label lets the
// status count nodes per release (and Prometheus relabel metrics by it).
func podLabels(zc *meshv1alpha1.ZtunnelConfig, version string) map[string]string {
	out := meta.Merge(objectLabels(zc), map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeNone})
	if len(validation.IsValidLabelValue(version)) == 0 {
		out[meta.LabelVersion] = version
	}
	return out
}

// Version is spec.version or the default.
func Version(zc *meshv1alpha1.ZtunnelConfig, defaultVersion string) string {
	if zc.Spec.Version != "" {
		return zc.Spec.Version
	}
	return defaultVersion
}

func drainSeconds(zc *meshv1alpha1.ZtunnelConfig) int32 {
	if u := zc.Spec.Upgrade; u != nil && u.DrainSeconds != nil {
		return *u.DrainSeconds
	}
	return defaultDrainSeconds
}

func ownerRef(zc *meshv1alpha1.ZtunnelConfig) []metav1.OwnerReference {
	return []metav1.OwnerReference{meta.ControllerRef(zc, meshv1alpha1.GroupVersion.WithKind("ZtunnelConfig"))}
}
