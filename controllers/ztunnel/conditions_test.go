package ztunnel

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ds builds a DaemonSet status: generation/observed, desired, updated, ready.
func ds(gen, observed int64, desired, updated, ready int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Status: appsv1.DaemonSetStatus{
		ObservedGeneration: observed, DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberReady: ready}}
}

type condCase struct {
	name   string
	s      Situation
	status metav1.ConditionStatus
	reason string
}

func run(t *testing.T, f func(Situation) metav1.Condition, cases []condCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Generation, tc.s.Version = 4, "v1.0.0"
			got := f(tc.s)
			if got.Status != tc.status || got.Reason != tc.reason {
				t.Fatalf("got %s/%s (%q), want %s/%s", got.Status, got.Reason, got.Message, tc.status, tc.reason)
			}
			if got.ObservedGeneration != 4 || got.Message == "" {
				t.Fatalf("condition must carry the generation and a message: %+v", got)
			}
		})
	}
}

func TestReadyCondition(t *testing.T) {
	run(t, ReadyCondition, []condCase{
		{"unread", Situation{Err: errors.New("timeout"), Unread: true}, metav1.ConditionUnknown, ReasonReadFailed},
		{"blocked", Situation{BlockedBy: "default"}, metav1.ConditionFalse, ReasonOverlap},
		{"no daemonset", Situation{}, metav1.ConditionFalse, ReasonDaemonSetMissing},
		{"no nodes", Situation{DaemonSet: ds(1, 1, 0, 0, 0)}, metav1.ConditionFalse, ReasonNoMatchingNodes},
		{"all ready", Situation{DaemonSet: ds(1, 1, 3, 3, 3)}, metav1.ConditionTrue, ReasonAllNodesReady},
		{"rolling", Situation{DaemonSet: ds(2, 2, 3, 1, 3)}, metav1.ConditionFalse, ReasonNodesNotReady},
		{"not observed", Situation{DaemonSet: ds(2, 1, 3, 3, 3)}, metav1.ConditionFalse, ReasonNodesNotReady},
	})
}

func TestProgressingCondition(t *testing.T) {
	run(t, ProgressingCondition, []condCase{
		{"blocked", Situation{BlockedBy: "default"}, metav1.ConditionFalse, ReasonOverlap},
		{"creating", Situation{}, metav1.ConditionTrue, ReasonCreating},
		{"not observed", Situation{DaemonSet: ds(2, 1, 3, 3, 3)}, metav1.ConditionTrue, ReasonRollingOut},
		{"rolling", Situation{DaemonSet: ds(2, 2, 3, 1, 3)}, metav1.ConditionTrue, ReasonRollingOut},
		{"starting", Situation{DaemonSet: ds(2, 2, 3, 3, 1)}, metav1.ConditionTrue, ReasonStarting},
		{"complete", Situation{DaemonSet: ds(2, 2, 3, 3, 3)}, metav1.ConditionFalse, ReasonComplete},
		{"unread", Situation{Err: errors.New("timeout"), Unread: true}, metav1.ConditionUnknown, ReasonReadFailed},
	})
}

func TestDegradedCondition(t *testing.T) {
	mis := ds(1, 1, 3, 3, 3)
	mis.Status.NumberMisscheduled = 1
	pull := PodFailure{Reason: ReasonImagePullFailed, Pod: "zt-a", Node: "node-a", Detail: "ImagePullBackOff: Back-off pulling image"}
	crash := PodFailure{Reason: ReasonCrashLoopBackOff, Pod: "zt-b", Node: "node-b", Detail: "CrashLoopBackOff: last exit code 1"}
	create := PodFailure{Reason: ReasonCreateContainerFailed, Pod: "zt-c", Node: "node-c", Detail: "CreateContainerConfigError: x"}
	unsched := PodFailure{Reason: ReasonUnschedulable, Pod: "zt-d", Node: "node-d", Detail: "0/3 nodes are available"}
	run(t, DegradedCondition, []condCase{
		{"blocked", Situation{BlockedBy: "default"}, metav1.ConditionTrue, ReasonOverlap},
		{"write failed", Situation{Err: errors.New("forbidden")}, metav1.ConditionTrue, ReasonApplyFailed},
		{"write failed and a pod failing: the write first", Situation{Err: errors.New("forbidden"), Failures: []PodFailure{pull}}, metav1.ConditionTrue, ReasonApplyFailed},
		{"image pull (the ImagePullBackOff DaemonSet that showed AsExpected)", Situation{DaemonSet: ds(1, 1, 3, 3, 2), Failures: []PodFailure{pull}}, metav1.ConditionTrue, ReasonImagePullFailed},
		{"crash loop", Situation{DaemonSet: ds(1, 1, 3, 3, 2), Failures: []PodFailure{crash}}, metav1.ConditionTrue, ReasonCrashLoopBackOff},
		{"container cannot be created", Situation{DaemonSet: ds(1, 1, 3, 3, 2), Failures: []PodFailure{create}}, metav1.ConditionTrue, ReasonCreateContainerFailed},
		{"unschedulable", Situation{DaemonSet: ds(1, 1, 3, 3, 2), Failures: []PodFailure{unsched}}, metav1.ConditionTrue, ReasonUnschedulable},
		{"pod failures over misscheduled", Situation{DaemonSet: mis, Failures: []PodFailure{unsched}}, metav1.ConditionTrue, ReasonUnschedulable},
		{"read failed", Situation{Err: errors.New("listing ZtunnelConfigs: timeout"), Unread: true}, metav1.ConditionTrue, ReasonReadFailed},
		{"misscheduled", Situation{DaemonSet: mis}, metav1.ConditionTrue, ReasonMisscheduled},
		{"healthy", Situation{DaemonSet: ds(1, 1, 3, 3, 3)}, metav1.ConditionFalse, ReasonAsExpected},
		{"not created yet", Situation{}, metav1.ConditionFalse, ReasonAsExpected},
	})
}

func TestDegradedMessageNamesNodesAndKubelet(t *testing.T) {
	s := Situation{Generation: 1, DaemonSet: ds(1, 1, 2, 2, 0), Failures: []PodFailure{
		{Reason: ReasonImagePullFailed, Pod: "zt-a", Node: "node-a", Detail: `ImagePullBackOff: Back-off pulling image "r/ztunnel:v9"`},
		{Reason: ReasonCrashLoopBackOff, Pod: "zt-b", Node: "node-b", Detail: "CrashLoopBackOff: last exit code 2"}}}
	c := DegradedCondition(s)
	want := `the ztunnel image cannot be pulled on node node-a: ImagePullBackOff: Back-off pulling image "r/ztunnel:v9" (pod zt-a); also the ztunnel keeps crashing on node node-b`
	if c.Message != want {
		t.Fatalf("message\n%s\nwant\n%s", c.Message, want)
	}
}

// After a handover the DaemonSet judges the node by its old, draining pod
// for drainSeconds (NumberReady 0) while the new ztunnel serves: seen on the
// real node. The pods show the truth.
func TestReadyNodesDuringTheDrain(t *testing.T) {
	s := Situation{Generation: 2, Version: "v1.0.1", DaemonSet: ds(2, 2, 1, 1, 0), Observed: Observed{ReadyNodes: 1}}
	if got := s.ReadyNodes(); got != 1 {
		t.Fatalf("ReadyNodes = %d, want 1", got)
	}
	if c := ReadyCondition(s); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %s %s: %s", c.Status, c.Reason, c.Message)
	}
	if c := ProgressingCondition(s); c.Reason != ReasonComplete {
		t.Errorf("Progressing = %s %s: %s", c.Status, c.Reason, c.Message)
	}
	// Without pods in view (envtest), the DaemonSet's count stands.
	if got := (Situation{DaemonSet: ds(1, 1, 3, 3, 2)}).ReadyNodes(); got != 2 {
		t.Errorf("ReadyNodes without pods = %d, want 2", got)
	}
}
