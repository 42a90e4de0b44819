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
	run(t, DegradedCondition, []condCase{
		{"blocked", Situation{BlockedBy: "default"}, metav1.ConditionTrue, ReasonOverlap},
		{"write failed", Situation{Err: errors.New("forbidden")}, metav1.ConditionTrue, ReasonApplyFailed},
		{"read failed", Situation{Err: errors.New("listing ZtunnelConfigs: timeout"), Unread: true}, metav1.ConditionTrue, ReasonReadFailed},
		{"misscheduled", Situation{DaemonSet: mis}, metav1.ConditionTrue, ReasonMisscheduled},
		{"healthy", Situation{DaemonSet: ds(1, 1, 3, 3, 3)}, metav1.ConditionFalse, ReasonAsExpected},
		{"not created yet", Situation{}, metav1.ConditionFalse, ReasonAsExpected},
	})
}
