package ztunnel

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/image"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// DaemonSetInput is what the DaemonSet depends on besides the config.
type DaemonSetInput struct {
	Namespace      string
	ImageRepo      string
	DefaultVersion string
}

// BuildDaemonSet runs one ztunnel per selected node. See docs/operator.md
// for why each privilege is there.
func BuildDaemonSet(zc *meshv1alpha1.ZtunnelConfig, in DaemonSetInput) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: Name(zc), Namespace: in.Namespace,
			Labels: objectLabels(zc), OwnerReferences: ownerRef(zc)},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(zc)},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type: appsv1.RollingUpdateDaemonSetStrategyType,
				// Surge: the new ztunnel binds its listeners next to the old
				// one (SO_REUSEPORT) before the old one drains.
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: surge(zc), MaxUnavailable: unavailable(zc)},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(zc, Version(zc, in.DefaultVersion)), Annotations: map[string]string{
					"prometheus.io/scrape": "true", "prometheus.io/port": fmt.Sprint(PortMetrics), "prometheus.io/path": "/metrics",
				}},
				Spec: podSpec(zc, in),
			},
		},
	}
}

func surge(zc *meshv1alpha1.ZtunnelConfig) *intstr.IntOrString {
	if u := zc.Spec.Upgrade; u != nil && u.MaxSurge != nil {
		return new(*u.MaxSurge)
	}
	return new(intstr.FromInt32(1))
}

func unavailable(zc *meshv1alpha1.ZtunnelConfig) *intstr.IntOrString {
	if u := zc.Spec.Upgrade; u != nil && u.MaxUnavailable != nil {
		return new(*u.MaxUnavailable)
	}
	return new(intstr.FromInt32(0))
}

// nodeSelector is spec.nodeSelector, restricted to Linux (in-pod capture
// uses Linux network namespaces) unless the spec names the OS itself.
func nodeSelector(zc *meshv1alpha1.ZtunnelConfig) map[string]string {
	out := meta.Merge(map[string]string{corev1.LabelOSStable: "linux"}, zc.Spec.NodeSelector)
	return out
}

// tolerations: a node agent must run on every selected node, tainted or not.
func tolerations(zc *meshv1alpha1.ZtunnelConfig) []corev1.Toleration {
	if len(zc.Spec.Tolerations) > 0 {
		return zc.Spec.Tolerations
	}
	return []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
}

func podSpec(zc *meshv1alpha1.ZtunnelConfig, in DaemonSetInput) corev1.PodSpec {
	return corev1.PodSpec{
		ServiceAccountName: Name(zc),
		// ztunnel watches pods, services and waypoints with this token.
		AutomountServiceAccountToken:  new(true),
		PriorityClassName:             "system-node-critical",
		TerminationGracePeriodSeconds: new(int64(drainSeconds(zc)) + terminationMargin),
		NodeSelector:                  nodeSelector(zc),
		Tolerations:                   tolerations(zc),
		Containers:                    []corev1.Container{container(zc, in)},
		Volumes:                       volumes(zc),
	}
}

// volumes: the node paths a ztunnel works with (see docs/operator.md for
// why each one is there), its configuration and its credentials.
func volumes(zc *meshv1alpha1.ZtunnelConfig) []corev1.Volume {
	host := func(name, path string, t corev1.HostPathType) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: new(t)}}}
	}
	cni := cniDirs(zc)
	return []corev1.Volume{
		host("sockets", SocketDir, corev1.HostPathDirectoryOrCreate),
		host("host-proc", "/proc", corev1.HostPathDirectory),
		host("cni-bin", cni.BinDir, corev1.HostPathDirectoryOrCreate),
		host("cni-conf", cni.ConfDir, corev1.HostPathDirectoryOrCreate),
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: Name(zc)}}}},
		{Name: "trust-bundle", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: meta.TrustBundleConfigMap}}}},
		{Name: "wayfabric-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: tokenAudience, ExpirationSeconds: new(int64(3600)), Path: "token"}}}}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	}
}

// defaultRequests: ztunnel is small (it keeps per-connection state only,
// sized for about 12 MB per 1,000 req/s). No default limits: a CPU limit throttles every pod's traffic on
// the node, a memory limit turns a spike into a node-wide outage.
var defaultRequests = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("50m"),
	corev1.ResourceMemory: resource.MustParse("64Mi"),
}

func resources(zc *meshv1alpha1.ZtunnelConfig) corev1.ResourceRequirements {
	if r := zc.Spec.Resources; r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		return *r.DeepCopy()
	}
	return corev1.ResourceRequirements{Requests: defaultRequests.DeepCopy()}
}

// Args is the ztunnel command line.
func Args() []string { return []string{"--config=" + configDir + "/" + configKey} }

func container(zc *meshv1alpha1.ZtunnelConfig, in DaemonSetInput) corev1.Container {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	port := func(name string, p int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: corev1.ProtocolTCP}
	}
	return corev1.Container{
		Name:            containerName,
		Image:           image.Resolve(in.ImageRepo, zc.Spec.Image, Version(zc, in.DefaultVersion)),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            Args(),
		Env: []corev1.EnvVar{
			field("NODE_NAME", "spec.nodeName"),
			field("POD_NAME", "metadata.name"),
			field("POD_NAMESPACE", "metadata.namespace"),
			field("INSTANCE_IP", "status.podIP"),
			field("HOST_IP", "status.hostIP"),
			field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
			{Name: "ZTUNNEL_CONFIG", Value: zc.Name},
			{Name: "WAYFABRIC_TOKEN_FILE", Value: tokenPath + "/token"},
		},
		Ports: []corev1.ContainerPort{
			port("outbound", PortOutbound), port("inbound", PortInbound), port("hbone", PortHBONE),
			port("http-metrics", PortMetrics), port("status", PortReadiness),
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: ReadinessPath, Port: intstr.FromString("status"), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds: 2, TimeoutSeconds: 1, FailureThreshold: 2, SuccessThreshold: 1,
		},
		Resources:       resources(zc),
		SecurityContext: securityContext(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "sockets", MountPath: SocketDir},
			{Name: "host-proc", MountPath: procMount, ReadOnly: true},
			{Name: "cni-bin", MountPath: cniBinMount},
			{Name: "cni-conf", MountPath: cniConfMount},
			{Name: "config", MountPath: configDir, ReadOnly: true},
			{Name: "trust-bundle", MountPath: trustBundlePath, ReadOnly: true},
			{Name: "wayfabric-token", MountPath: tokenPath, ReadOnly: true},
			{Name: "tmp", MountPath: "/tmp"},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// securityContext grants exactly what in-pod capture needs: NET_ADMIN
// (nftables rules, policy routes, SO_MARK, IP_TRANSPARENT), SYS_ADMIN
// (setns into pod network namespaces) and SYS_PTRACE (opening
// /proc/<pid>/ns/net of pods' processes, which run as other users, to adopt
// running pods). Not NET_RAW: the kernel accepts NET_ADMIN for SO_MARK and
// IP_TRANSPARENT, and ztunnel opens no raw socket. docs/operator.md
// justifies each.
// Root uid is required for the capabilities to be effective (Kubernetes has
// no ambient capabilities); privilege escalation cannot be disabled next to
// SYS_ADMIN (the API server rejects it), so it is explicit.
func securityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:               new(false),
		AllowPrivilegeEscalation: new(true),
		ReadOnlyRootFilesystem:   new(true),
		RunAsUser:                new(int64(0)),
		RunAsGroup:               new(int64(1337)),
		RunAsNonRoot:             new(false),
		Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
			Add:  []corev1.Capability{"NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"},
		},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
