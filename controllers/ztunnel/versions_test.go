package ztunnel

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
)

// runningPod is a ztunnel pod of version on node, ready or not.
func runningPod(uid, node, version string, ready bool) corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "zt-" + uid, UID: types.UID(uid), Labels: map[string]string{"app.kubernetes.io/version": version}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0." + uid,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func TestPodVersion(t *testing.T) {
	image := func(img string) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ztunnel", Image: img}}}}
	}
	labelled := image("r/ztunnel:v0.1.0")
	labelled.Labels = map[string]string{"app.kubernetes.io/version": "v0.2.0"}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{labelled, "v0.2.0"},
		{image("ghcr.io/wayfabric/ztunnel:v0.1.0"), "v0.1.0"},
		{image("localhost:5000/ztunnel:v0.3.0@sha256:abc"), "v0.3.0"},
		{image("localhost:5000/ztunnel"), UnknownVersion},
		{image("ztunnel@sha256:abc"), UnknownVersion},
	} {
		if got := PodVersion(tc.pod); got != tc.want {
			t.Errorf("PodVersion(%s, %v) = %q, want %q", tc.pod.Spec.Containers[0].Image, tc.pod.Labels, got, tc.want)
		}
	}
}

func TestObserve(t *testing.T) {
	deleting := runningPod("9", "n3", "v0.1.0", false)
	deleting.DeletionTimestamp = new(metav1.Now())
	unscheduled := runningPod("8", "", "v0.2.0", false)
	pods := []corev1.Pod{
		runningPod("1", "n1", "v0.10.0", true), // a canary on n1
		runningPod("2", "n2", "v0.9.0", true),
		runningPod("3", "n3", "v0.9.0", false), // surge on n3: old ready and draining, new starting
		runningPod("4", "n3", "v0.10.0", false),
		runningPod("5", "n4", "v0.9.0", true), // did not answer
		deleting, unscheduled,
	}
	statuses := map[types.UID]ztunnelstatus.Status{
		"1": {Ready: true, CapturedPods: 4},
		"2": {Ready: true, CapturedPods: 3},
		"3": {Ready: true, CapturedPods: 100}, // the pod is not ready: not counted
	}
	got := Observe(pods, statuses)
	want := Observed{CapturedPods: 7, ReadyNodes: 3, Versions: []meshv1alpha1.ZtunnelVersionStatus{
		{Version: "v0.9.0", Nodes: 3, ReadyNodes: 2, CapturedPods: 3},
		{Version: "v0.10.0", Nodes: 2, ReadyNodes: 1, CapturedPods: 4},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Observe =\n%+v\nwant\n%+v", got, want)
	}

	// A ztunnel that handed over (draining) still answers; its pods are
	// counted by its successor only.
	draining := map[types.UID]ztunnelstatus.Status{"1": {Ready: true, Draining: true, CapturedPods: 4}}
	if got := Observe(pods[:1], draining); got.CapturedPods != 0 {
		t.Errorf("a draining ztunnel's pods were counted: %+v", got)
	}
	if got := Observe(nil, nil); got.CapturedPods != 0 || got.Versions != nil {
		t.Errorf("no pods: %+v", got)
	}
}

func TestCompareVersions(t *testing.T) {
	order := []string{"v0.9.0", "v0.10.0-rc.1", "v0.10.0", "v1.0.0", "custom", UnknownVersion}
	for i := range order {
		for j := range order {
			got := compareVersions(order[i], order[j])
			if (i < j && got >= 0) || (i > j && got <= 0) || (i == j && got != 0) {
				t.Errorf("compareVersions(%q, %q) = %d", order[i], order[j], got)
			}
		}
	}
}
