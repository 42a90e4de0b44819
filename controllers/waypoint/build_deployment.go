package waypoint

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/image"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// DeploymentInput is what the Deployment depends on besides the Waypoint.
type DeploymentInput struct {
	// ImageRepo is RELATED_IMAGE_WAYPOINT; the tag is the version.
	ImageRepo string
	// DefaultVersion applies when spec.version is empty.
	DefaultVersion string
	// Replicas is the Waypoint's DeploymentReplicas.
	Replicas int32
	// OperatorNamespace locates the mesh CA's Service.
	OperatorNamespace string
}

// BuildDeployment is the waypoint fleet: surge-only rollouts, a grace period
// that covers the drain, spread across nodes and zones, and a locked-down pod.
func BuildDeployment(wp *meshv1alpha1.Waypoint, in DeploymentInput) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: wp.Name, Namespace: wp.Namespace,
			Labels: objectLabels(wp), OwnerReferences: ownerRef(wp),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(in.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(wp)},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					// Never give up serving capacity during a rollout.
					MaxUnavailable: new(intstr.FromInt32(0)),
					MaxSurge:       maxSurge(wp),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: podLabels(wp),
					Annotations: map[string]string{
						"prometheus.io/scrape": "true",
						"prometheus.io/port":   fmt.Sprint(mesh.PortStats),
						"prometheus.io/path":   "/metrics",
					},
				},
				Spec: podSpec(wp, in),
			},
		},
	}
}

func maxSurge(wp *meshv1alpha1.Waypoint) *intstr.IntOrString {
	if u := wp.Spec.Upgrade; u != nil && u.MaxSurge != nil {
		return new(*u.MaxSurge)
	}
	return new(intstr.FromString("25%"))
}

func podSpec(wp *meshv1alpha1.Waypoint, in DeploymentInput) corev1.PodSpec {
	return corev1.PodSpec{
		ServiceAccountName: wp.Name,
		// The waypoint watches routes, Services and endpoints with this token.
		AutomountServiceAccountToken:  new(true),
		TerminationGracePeriodSeconds: new(int64(drainSeconds(wp)) + terminationMargin),
		NodeSelector:                  wp.Spec.NodeSelector,
		Tolerations:                   wp.Spec.Tolerations,
		TopologySpreadConstraints:     topologySpread(wp),
		Affinity:                      zoneAntiAffinity(wp),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   new(true),
			RunAsUser:      new(int64(nonRootID)),
			RunAsGroup:     new(int64(nonRootID)),
			FSGroup:        new(int64(nonRootID)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{container(wp, in)},
		Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			{Name: "wayfabric-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience: tokenAudience, ExpirationSeconds: new(int64(3600)), Path: "token",
				}}},
			}}},
			// Published by the mesh CA; the pod waits for it rather than
			// starting without a way to verify its peers.
			{Name: "trust-bundle", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: meta.TrustBundleConfigMap},
			}}},
		},
	}
}

// Args is the waypoint command line (flags of cmd/waypoint). Flags whose
// value is the waypoint's default are left out, so that adding them did not
// roll out every existing waypoint.
func Args(wp *meshv1alpha1.Waypoint, operatorNamespace string) []string {
	args := []string{
		"--waypoint-name=" + wp.Name,
		"--namespace=" + wp.Namespace,
		fmt.Sprintf("--drain-seconds=%d", drainSeconds(wp)),
		"--ca-url=https://" + meta.CAAddress(operatorNamespace),
		"--token-file=" + tokenPath + "/token",
		"--root-cert=" + trustBundlePath + "/" + meta.TrustBundleKey,
	}
	if f := wp.Spec.For; f != "" && f != meshv1alpha1.TrafficService {
		// Which traffic it serves: pod IPs too for workload and all.
		args = append(args, "--waypoint-for="+string(f))
	}
	if operatorNamespace != mesh.DefaultNamespace {
		// Node proxies run in the operator namespace; only they may set the
		// client's address on a tunnel.
		args = append(args, "--node-proxy-namespace="+operatorNamespace)
	}
	return args
}

func container(wp *meshv1alpha1.Waypoint, in DeploymentInput) corev1.Container {
	res := wp.TemplateResources()
	c := corev1.Container{
		Name:            meshv1alpha1.WaypointContainerName,
		Image:           image.Resolve(in.ImageRepo, wp.Spec.Image, Version(wp, in.DefaultVersion)),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            Args(wp, meta.OperatorNamespace(in.OperatorNamespace)),
		Ports: []corev1.ContainerPort{
			{Name: "hbone", ContainerPort: mesh.PortHBONE, Protocol: corev1.ProtocolTCP},
			{Name: "http-metrics", ContainerPort: mesh.PortStats, Protocol: corev1.ProtocolTCP},
			{Name: "status", ContainerPort: mesh.PortReadiness, Protocol: corev1.ProtocolTCP},
		},
		Env: env(res),
		// Readiness only: a liveness probe restarting a proxy under load
		// turns overload into an outage.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: mesh.ReadinessPath, Port: intstr.FromString("status"), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds: 2, TimeoutSeconds: 1, FailureThreshold: 2, SuccessThreshold: 1,
		},
		Resources: res,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			ReadOnlyRootFilesystem:   new(true),
			RunAsNonRoot:             new(true),
			Privileged:               new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "tmp", MountPath: "/tmp"},
			{Name: "wayfabric-token", MountPath: tokenPath, ReadOnly: true},
			{Name: "trust-bundle", MountPath: trustBundlePath, ReadOnly: true},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	return c
}

// env gives the proxy its pod identity and, when a memory limit exists, a
// Go soft memory limit at 90% of it so the GC works before the OOM killer.
// The env holds from the first instruction; the proxy then follows its
// cgroup's limit (--memory-limit-percent, also 90), which an in-place resize
// changes while the env cannot.
func env(res corev1.ResourceRequirements) []corev1.EnvVar {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	out := []corev1.EnvVar{
		field("POD_NAME", "metadata.name"),
		field("POD_NAMESPACE", "metadata.namespace"),
		field("NODE_NAME", "spec.nodeName"),
		field("INSTANCE_IP", "status.podIP"),
		field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
	}
	if lim, ok := res.Limits[corev1.ResourceMemory]; ok {
		out = append(out, corev1.EnvVar{Name: "GOMEMLIMIT", Value: fmt.Sprint(lim.Value() / 10 * 9)})
	}
	return out
}

// topologySpread spreads replicas across nodes without blocking scheduling;
// matchLabelKeys scopes the spread to one ReplicaSet so a rollout's new pods
// spread too. spec.topologySpreadConstraints replace it.
//
// Zones are not a spread constraint: the scheduler scores soft spread
// constraints only on nodes that carry every constraint's key, so on a
// cluster without zone labels a zone constraint silently turned off the
// node spread too (measured on kwok nodes: every replica on one node).
func topologySpread(wp *meshv1alpha1.Waypoint) []corev1.TopologySpreadConstraint {
	if len(wp.Spec.TopologySpreadConstraints) > 0 {
		return wp.Spec.TopologySpreadConstraints
	}
	return []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector:  &metav1.LabelSelector{MatchLabels: selectorLabels(wp)},
		MatchLabelKeys: []string{"pod-template-hash"},
	}}
}

// zoneAntiAffinity prefers zones with fewer replicas of the same ReplicaSet:
// it balances replicas across zones where nodes have zone labels and is
// ignored where they have none. Off when spec.topologySpreadConstraints is
// set, so the user's placement is the only one.
func zoneAntiAffinity(wp *meshv1alpha1.Waypoint) *corev1.Affinity {
	if len(wp.Spec.TopologySpreadConstraints) > 0 {
		return nil
	}
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey:    corev1.LabelTopologyZone,
				LabelSelector:  &metav1.LabelSelector{MatchLabels: selectorLabels(wp)},
				MatchLabelKeys: []string{"pod-template-hash"},
			},
		}},
	}}
}
