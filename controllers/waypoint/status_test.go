package waypoint

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestComputeStatusOwnsDesiredReplicasOnlyWithoutAutoscaling(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Name: "wp", Generation: 3}}
	d := deploy(1, 1, 2, 2, 2)
	st := ComputeStatus(wp, d, 2, "v1.0.0", nil, now)
	if st.DesiredReplicas == nil || *st.DesiredReplicas != 2 || st.ReadyReplicas != 2 || st.ObservedGeneration != 3 ||
		st.Selector != "app.kubernetes.io/name=waypoint,mesh.wayfabric.io/waypoint=wp" || st.Version != "v1.0.0" {
		t.Fatalf("unexpected status %+v", st)
	}
	wp.Spec.Autoscaling = &meshv1alpha1.WaypointAutoscaling{Horizontal: &meshv1alpha1.HorizontalAutoscaling{MinReplicas: 1, MaxReplicas: 3}}
	if st := ComputeStatus(wp, d, 2, "v1.0.0", nil, now); st.DesiredReplicas != nil {
		t.Fatal("desiredReplicas belongs to the autoscaler while it is on")
	}
}

func TestStatusUpToDate(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Name: "wp", Generation: 3}}
	want := ComputeStatus(wp, deploy(1, 1, 2, 2, 2), 2, "v1.0.0", nil, now)
	have := meshv1alpha1.WaypointStatus{ObservedGeneration: 3, Replicas: 2, ReadyReplicas: 2, UpdatedReplicas: 2,
		DesiredReplicas: 2, Selector: want.Selector, Version: "v1.0.0",
		// The autoscaler's condition and load must not count as a difference.
		Load:       &meshv1alpha1.WaypointLoad{RequestsPerSecond: 10},
		Conditions: append([]metav1.Condition{{Type: meshv1alpha1.ConditionScalingActive, Status: metav1.ConditionTrue}}, want.Conditions...)}
	for _, tc := range []struct {
		name   string
		mutate func(*meshv1alpha1.WaypointStatus)
		ok     bool
	}{
		{"identical owned fields", func(*meshv1alpha1.WaypointStatus) {}, true},
		{"ready replicas moved", func(s *meshv1alpha1.WaypointStatus) { s.ReadyReplicas = 1 }, false},
		{"older generation", func(s *meshv1alpha1.WaypointStatus) { s.ObservedGeneration = 2 }, false},
		{"version", func(s *meshv1alpha1.WaypointStatus) { s.Version = "v0.9.0" }, false},
		{"desired replicas", func(s *meshv1alpha1.WaypointStatus) { s.DesiredReplicas = 5 }, false},
		{"condition missing", func(s *meshv1alpha1.WaypointStatus) { s.Conditions = s.Conditions[:1] }, false},
		{"autoscaler fields only", func(s *meshv1alpha1.WaypointStatus) { s.Load.RequestsPerSecond = 99 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := *have.DeepCopy()
			tc.mutate(&h)
			if got := StatusUpToDate(h, want); got != tc.ok {
				t.Fatalf("StatusUpToDate = %v, want %v", got, tc.ok)
			}
		})
	}
}
