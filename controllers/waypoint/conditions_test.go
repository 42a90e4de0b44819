package waypoint

import (
	"errors"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// deploy builds a Deployment status: generation/observed, replicas, updated, ready.
func deploy(gen, observed int64, replicas, updated, ready int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Status: appsv1.DeploymentStatus{
		ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, ReadyReplicas: ready, Conditions: conds}}
}

var deadline = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
	Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "w-1" has timed out progressing.`}

func check(t *testing.T, got metav1.Condition, status metav1.ConditionStatus, reason string) {
	t.Helper()
	if got.Status != status || got.Reason != reason {
		t.Fatalf("got %s/%s (%q), want %s/%s", got.Status, got.Reason, got.Message, status, reason)
	}
	if got.ObservedGeneration != 7 || got.Message == "" {
		t.Fatalf("condition must carry the generation and a message: %+v", got)
	}
}

func TestReadyCondition(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       *appsv1.Deployment
		desired int32
		status  metav1.ConditionStatus
		reason  string
	}{
		{"no deployment", nil, 2, metav1.ConditionFalse, ReasonDeploymentMissing},
		{"scaled to zero", deploy(1, 1, 0, 0, 0), 0, metav1.ConditionFalse, ReasonScaledToZero},
		{"all ready", deploy(2, 2, 2, 2, 2), 2, metav1.ConditionTrue, ReasonAllReplicasReady},
		{"some not ready", deploy(2, 2, 2, 2, 1), 2, metav1.ConditionFalse, ReasonReplicasNotReady},
		{"ready but old template", deploy(3, 3, 3, 1, 3), 2, metav1.ConditionFalse, ReasonReplicasNotReady},
		{"new generation not observed", deploy(3, 2, 2, 2, 2), 2, metav1.ConditionFalse, ReasonReplicasNotReady},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, ReadyCondition(7, tc.d, tc.desired, "v1.0.0"), tc.status, tc.reason) })
	}
}

func TestProgressingCondition(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       *appsv1.Deployment
		desired int32
		status  metav1.ConditionStatus
		reason  string
	}{
		{"creating", nil, 1, metav1.ConditionTrue, ReasonCreating},
		{"generation not observed", deploy(2, 1, 1, 1, 1), 1, metav1.ConditionTrue, ReasonRollingOut},
		{"rolling out", deploy(2, 2, 3, 1, 3), 2, metav1.ConditionTrue, ReasonRollingOut},
		{"old pods still running", deploy(2, 2, 3, 2, 3), 2, metav1.ConditionTrue, ReasonScalingDown},
		{"new pods not ready", deploy(2, 2, 3, 3, 1), 3, metav1.ConditionTrue, ReasonScalingUp},
		{"complete", deploy(2, 2, 2, 2, 2), 2, metav1.ConditionFalse, ReasonComplete},
		{"stuck", deploy(2, 2, 3, 1, 2, deadline), 2, metav1.ConditionFalse, ReasonProgressDeadline},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, ProgressingCondition(7, tc.d, tc.desired), tc.status, tc.reason) })
	}
}

func TestDegradedCondition(t *testing.T) {
	quota := appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Message: "exceeded quota"}
	for _, tc := range []struct {
		name   string
		d      *appsv1.Deployment
		err    error
		status metav1.ConditionStatus
		reason string
	}{
		{"healthy", deploy(1, 1, 1, 1, 1), nil, metav1.ConditionFalse, ReasonAsExpected},
		{"no deployment yet is not degraded", nil, nil, metav1.ConditionFalse, ReasonAsExpected},
		{"write failed", nil, errors.New("applying Deployment ns/w: forbidden"), metav1.ConditionTrue, ReasonApplyFailed},
		{"read failed", nil, unreadError{errors.New("reading Deployment ns/w: timeout")}, metav1.ConditionTrue, ReasonReadFailed},
		{"rollout stuck", deploy(2, 2, 2, 1, 1, deadline), nil, metav1.ConditionTrue, ReasonProgressDeadline},
		{"pods cannot be created", deploy(1, 1, 0, 0, 0, quota), nil, metav1.ConditionTrue, ReasonReplicaFailure},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, DegradedCondition(7, tc.d, tc.err), tc.status, tc.reason) })
	}
}

// A reconcile that could not read the Deployment says so in every owned
// condition instead of claiming the Deployment is missing.
func TestComputeStatusWhenTheDeploymentCannotBeRead(t *testing.T) {
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Name: "wp", Generation: 7}}
	err := unreadError{errors.New("reading Deployment ns/wp: timeout")}
	st := ComputeStatus(wp, nil, 1, "v1.0.0", fmt.Errorf("reconcile: %w", err), metav1.Now())
	for i, want := range []struct {
		status metav1.ConditionStatus
		reason string
	}{{metav1.ConditionUnknown, ReasonReadFailed}, {metav1.ConditionUnknown, ReasonReadFailed}, {metav1.ConditionTrue, ReasonReadFailed}} {
		check(t, st.Conditions[i], want.status, want.reason)
	}
}
