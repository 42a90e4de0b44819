package ztunnel

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/nodeconfig"
)

// NodeConfig is the ztunnel's configuration file (config.yaml in the
// ConfigMap), defined in proxy/ztunnel/nodeconfig so the ztunnel does not
// import the operator. It is not in the pod template: the ztunnel reloads
// it in place, because restarting a node's ztunnel for a log level or an
// exclusion list is never worth it.
type NodeConfig = nodeconfig.Config

// NodeConfigFor fills NodeConfig from the spec, applying the API defaults
// where the spec is empty (objects created before a default existed).
func NodeConfigFor(zc *meshv1alpha1.ZtunnelConfig, namespace string) NodeConfig {
	s := zc.Spec
	cfg := NodeConfig{
		ConfigName:         zc.Name,
		TrustDomain:        orDefault(s.TrustDomain, "cluster.local"),
		CAAddress:          meta.CAAddress(namespace),
		LogLevel:           orDefault(string(s.LogLevel), "info"),
		DrainSeconds:       drainSeconds(zc),
		ExcludedNamespaces: s.ExcludedNamespaces,
		Capture:            nodeconfig.Capture{Mode: string(meshv1alpha1.CaptureInPod)},
		CNI:                cniDirs(zc),
	}
	if cfg.ExcludedNamespaces == nil {
		cfg.ExcludedNamespaces = []string{"kube-system"}
	}
	if c := s.Capture; c != nil {
		cfg.Capture = nodeconfig.Capture{Mode: orDefault(string(c.Mode), string(meshv1alpha1.CaptureInPod)),
			ExcludeInboundPorts: c.ExcludeInboundPorts, ExcludeOutboundPorts: c.ExcludeOutboundPorts,
			ExcludeOutboundCIDRs: c.ExcludeOutboundCIDRs}
	}
	return cfg
}

// cniDirs are spec.cni's host paths, defaulted.
func cniDirs(zc *meshv1alpha1.ZtunnelConfig) nodeconfig.CNI {
	out := nodeconfig.CNI{BinDir: DefaultCNIBinDir, ConfDir: DefaultCNIConfDir}
	if c := zc.Spec.CNI; c != nil {
		out.BinDir = orDefault(c.BinDir, DefaultCNIBinDir)
		out.ConfDir = orDefault(c.ConfDir, DefaultCNIConfDir)
	}
	return out
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// BuildConfigMap holds NodeConfig as config.yaml.
func BuildConfigMap(zc *meshv1alpha1.ZtunnelConfig, namespace string) (*corev1.ConfigMap, error) {
	raw, err := yaml.Marshal(NodeConfigFor(zc, namespace))
	if err != nil {
		return nil, fmt.Errorf("rendering the ztunnel configuration of ZtunnelConfig %s: %w", zc.Name, err)
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: Name(zc), Namespace: namespace,
			Labels: objectLabels(zc), OwnerReferences: ownerRef(zc)},
		Data: map[string]string{configKey: string(raw)},
	}, nil
}
