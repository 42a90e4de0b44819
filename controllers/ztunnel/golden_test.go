package ztunnel

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/golden"
)

func goldenConfigs() map[string]*meshv1alpha1.ZtunnelConfig {
	meta := metav1.ObjectMeta{Name: "default", UID: types.UID("0000-uid"), Generation: 1}
	return map[string]*meshv1alpha1.ZtunnelConfig{
		"minimal": {ObjectMeta: meta},
		"full": {ObjectMeta: meta, Spec: meshv1alpha1.ZtunnelConfigSpec{
			Version: "v1.2.3", Image: "mirror.local/ztunnel:custom",
			NodeSelector: map[string]string{"pool": "mesh", corev1.LabelOSStable: "linux"},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh", Effect: corev1.TaintEffectNoSchedule}},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi")}},
			TrustDomain: "prod.example.com",
			Capture: &meshv1alpha1.CaptureSettings{Mode: meshv1alpha1.CaptureInPod, ExcludeInboundPorts: []int32{9090},
				ExcludeOutboundPorts: []int32{5432}, ExcludeOutboundCIDRs: []string{"169.254.169.254/32"}},
			ExcludedNamespaces: []string{"kube-system", "monitoring"},
			Upgrade:            &meshv1alpha1.ZtunnelUpgrade{MaxSurge: new(intstr.FromInt32(0)), MaxUnavailable: new(intstr.FromString("10%")), DrainSeconds: new(int32(60))},
			LogLevel:           "debug",
		}},
	}
}

func TestGoldenObjects(t *testing.T) {
	for name, zc := range goldenConfigs() {
		t.Run(name, func(t *testing.T) {
			const ns = "wayfabric-system"
			golden.Check(t, name+"/serviceaccount", BuildServiceAccount(zc, ns))
			golden.Check(t, name+"/clusterrole", BuildClusterRole(zc))
			golden.Check(t, name+"/clusterrolebinding", BuildClusterRoleBinding(zc, ns))
			cm, err := BuildConfigMap(zc, ns)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+"/configmap", cm)
			golden.Check(t, name+"/daemonset", BuildDaemonSet(zc, DaemonSetInput{Namespace: ns, ImageRepo: "ghcr.io/wayfabric/ztunnel", DefaultVersion: "v0.1.0"}))
		})
	}
}

// TestDaemonSetPrivileges pins the security contract independently of the
// golden files, so a regenerated file cannot quietly widen it.
func TestDaemonSetPrivileges(t *testing.T) {
	d := BuildDaemonSet(goldenConfigs()["minimal"], DaemonSetInput{Namespace: "ns", ImageRepo: "r", DefaultVersion: "v0.1.0"})
	pod := d.Spec.Template.Spec
	sc := pod.Containers[0].SecurityContext
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("ztunnel must not share the host's network, PID or IPC namespace")
	}
	if *sc.Privileged || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("must be unprivileged and drop ALL: %+v", sc)
	}
	want := map[corev1.Capability]bool{"NET_ADMIN": true, "SYS_ADMIN": true, "SYS_PTRACE": true}
	if len(sc.Capabilities.Add) != len(want) {
		t.Errorf("capabilities = %v, want exactly NET_ADMIN, SYS_ADMIN, SYS_PTRACE", sc.Capabilities.Add)
	}
	for _, c := range sc.Capabilities.Add {
		if !want[c] {
			t.Errorf("unexpected capability %s", c)
		}
	}
	// Exactly the node paths docs/operator.md justifies; /proc read-only.
	hostPaths := map[string]bool{SocketDir: true, "/proc": true, DefaultCNIBinDir: true, DefaultCNIConfDir: true}
	for _, v := range pod.Volumes {
		if v.HostPath != nil && !hostPaths[v.HostPath.Path] {
			t.Errorf("unexpected host path %s", v.HostPath.Path)
		}
	}
	for _, m := range pod.Containers[0].VolumeMounts {
		if m.Name == "host-proc" && !m.ReadOnly {
			t.Error("the host's /proc must be mounted read-only")
		}
	}
	if pod.PriorityClassName != "system-node-critical" || *pod.TerminationGracePeriodSeconds != 35 {
		t.Errorf("priority %q, grace %d", pod.PriorityClassName, *pod.TerminationGracePeriodSeconds)
	}
	ru := d.Spec.UpdateStrategy.RollingUpdate
	if ru.MaxSurge.IntValue() != 1 || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("default rollout must be surge 1 / unavailable 0, got %v / %v", ru.MaxSurge, ru.MaxUnavailable)
	}
}
