package ztunnel

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ztPod is a ztunnel pod on node with its container in state.
func ztPod(name, node string, state corev1.ContainerState, mutate ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "wayfabric-system"},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: containerName, Image: "ghcr.io/wayfabric/ztunnel:v1.0.0"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: containerName, State: state}}}}
	for _, m := range mutate {
		m(&p)
	}
	return p
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

// unschedulable is a DaemonSet pod the scheduler could not place on node.
func unschedulable(name, node, msg string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg}}}}
}

func TestDiagnosePod(t *testing.T) {
	crashed := ztPod("zt-c", "node-c", waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container=ztunnel"), func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			Message: "{\"msg\":\"starting\"}\n" + strings.Repeat("x", 500) + "\nztunnel: reading /etc/ztunnel/config.yaml: permission denied\n"}
	})
	terminating := ztPod("zt-t", "node-t", waiting("ImagePullBackOff", "Back-off"), func(p *corev1.Pod) { p.DeletionTimestamp = new(metav1.Now()) })
	running := ztPod("zt-r", "node-r", corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })
	cases := []struct {
		name        string
		pod         corev1.Pod
		reason      string
		node        string
		detailHas   []string
		detailLacks string
	}{
		{name: "image pull back-off", pod: ztPod("zt-a", "node-a", waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/wayfabric/ztunnel:v9.9.9"`)),
			reason: ReasonImagePullFailed, node: "node-a", detailHas: []string{"ImagePullBackOff", `ztunnel:v9.9.9`}},
		{name: "pull error", pod: ztPod("zt-a", "node-a", waiting("ErrImagePull", "rpc error: not found")), reason: ReasonImagePullFailed, node: "node-a", detailHas: []string{"ErrImagePull: rpc error: not found"}},
		{name: "invalid image name", pod: ztPod("zt-a", "node-a", waiting("InvalidImageName", `couldn't parse image name "Bad:Name"`)), reason: ReasonImagePullFailed, node: "node-a", detailHas: []string{"InvalidImageName"}},
		{name: "config error", pod: ztPod("zt-b", "node-b", waiting("CreateContainerConfigError", `configmap "ztunnel-default" not found`)),
			reason: ReasonCreateContainerFailed, node: "node-b", detailHas: []string{"CreateContainerConfigError", `configmap "ztunnel-default" not found`}},
		{name: "create error", pod: ztPod("zt-b", "node-b", waiting("CreateContainerError", "context deadline exceeded")), reason: ReasonCreateContainerFailed, node: "node-b", detailHas: []string{"CreateContainerError"}},
		{name: "crash loop: the exit and the end of the log, not the kubelet's back-off line", pod: crashed, reason: ReasonCrashLoopBackOff, node: "node-c",
			detailHas: []string{"exit code 1 (Error)", "permission denied"}, detailLacks: "back-off 5m0s"},
		{name: "unschedulable: the node from the DaemonSet's affinity", pod: unschedulable("zt-u", "node-u", "0/3 nodes are available: 1 Insufficient memory."),
			reason: ReasonUnschedulable, node: "node-u", detailHas: []string{"Insufficient memory"}},
		{name: "init container failing", pod: ztPod("zt-i", "node-i", corev1.ContainerState{}, func(p *corev1.Pod) {
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: waiting("ErrImagePull", "denied")}}
		}), reason: ReasonImagePullFailed, node: "node-i", detailHas: []string{"denied"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := DiagnosePod(&tc.pod)
			if !ok || f.Reason != tc.reason || f.Node != tc.node || f.Pod != tc.pod.Name {
				t.Fatalf("DiagnosePod = %+v, %v; want reason %s on %s", f, ok, tc.reason, tc.node)
			}
			for _, w := range tc.detailHas {
				if !strings.Contains(f.Detail, w) {
					t.Errorf("detail %q lacks %q", f.Detail, w)
				}
			}
			if tc.detailLacks != "" && strings.Contains(f.Detail, tc.detailLacks) {
				t.Errorf("detail %q has %q", f.Detail, tc.detailLacks)
			}
			if strings.Contains(f.Detail, "\n") || len([]rune(f.Detail)) > maxDetail+80 {
				t.Errorf("detail must be one bounded line, got %d runes: %q", len([]rune(f.Detail)), f.Detail)
			}
		})
	}
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
	}{
		{"running", running},
		{"terminating, whatever its state", terminating},
		{"starting (ContainerCreating)", ztPod("zt-s", "node-s", waiting("ContainerCreating", ""))},
		{"pending, not yet scheduled", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}},
	} {
		if f, ok := DiagnosePod(&tc.pod); ok {
			t.Errorf("%s: diagnosed %+v, want nothing", tc.name, f)
		}
	}
}

func TestFailureMessage(t *testing.T) {
	pull := func(name, node string) corev1.Pod {
		return ztPod(name, node, waiting("ImagePullBackOff", `Back-off pulling image "r/ztunnel:v9"`))
	}
	crash := ztPod("zt-c", "node-c", waiting("CrashLoopBackOff", ""))
	cases := []struct {
		name   string
		pods   []corev1.Pod
		reason string
		want   []string
	}{
		{"one node", []corev1.Pod{pull("zt-a", "node-a")}, ReasonImagePullFailed,
			[]string{`the ztunnel image cannot be pulled on node node-a: ImagePullBackOff: Back-off pulling image "r/ztunnel:v9" (pod zt-a)`}},
		{"several nodes, sorted, at most three named", []corev1.Pod{pull("zt-e", "node-e"), pull("zt-b", "node-b"), pull("zt-d", "node-d"), pull("zt-a", "node-a")},
			ReasonImagePullFailed, []string{"on 4 nodes (node-a, node-b, node-d and 1 more)", "(pod zt-a)"}},
		{"the most severe class names the condition, the others follow", []corev1.Pod{crash, unschedulable("zt-u", "node-u", "no room"), pull("zt-a", "node-a")},
			ReasonImagePullFailed, []string{"cannot be pulled on node node-a", "; also the ztunnel keeps crashing on node node-c", "; also the ztunnel pod cannot be scheduled on node node-u"}},
		{"crash loop alone", []corev1.Pod{crash}, ReasonCrashLoopBackOff, []string{"the ztunnel keeps crashing on node node-c: CrashLoopBackOff"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := FailureMessage(DiagnosePods(tc.pods))
			if reason != tc.reason {
				t.Errorf("reason %q, want %q (%s)", reason, tc.reason, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			// Stable whatever the list order (no status write per reconcile).
			rev := append([]corev1.Pod(nil), tc.pods...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			if _, again := FailureMessage(DiagnosePods(rev)); again != msg {
				t.Errorf("message depends on pod order:\n%s\n%s", msg, again)
			}
		})
	}
	if r, m := FailureMessage(nil); r != "" || m != "" {
		t.Errorf("no failures: %q %q", r, m)
	}
}
