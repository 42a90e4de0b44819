package waypoint

import (
	"testing"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestDeploymentReplicas(t *testing.T) {
	hpa := func(enabled *bool, lo, hi int32) *meshv1alpha1.WaypointAutoscaling {
		return &meshv1alpha1.WaypointAutoscaling{Horizontal: &meshv1alpha1.HorizontalAutoscaling{Enabled: enabled, MinReplicas: lo, MaxReplicas: hi}}
	}
	for _, tc := range []struct {
		name    string
		spec    *int32
		auto    *meshv1alpha1.WaypointAutoscaling
		desired int32
		current *int32
		want    int32
	}{
		{"off: spec.replicas", new(int32(3)), nil, 0, new(int32(7)), 3},
		{"off: unset spec defaults to 1", nil, nil, 0, nil, 1},
		{"off: explicit disabled ignores status", new(int32(2)), hpa(new(false), 1, 10), 9, nil, 2},
		{"off: zero replicas is honoured", new(int32(0)), nil, 0, nil, 0},
		{"on (enabled unset): autoscaler decision", new(int32(1)), hpa(nil, 2, 10), 5, new(int32(3)), 5},
		{"on: decision clamped to max", nil, hpa(new(true), 2, 10), 50, nil, 10},
		{"on: decision clamped to min", nil, hpa(new(true), 2, 10), 1, nil, 2},
		{"on: no decision keeps current", new(int32(1)), hpa(new(true), 2, 10), 0, new(int32(6)), 6},
		{"on: no decision clamps current", nil, hpa(new(true), 2, 4), 0, new(int32(6)), 4},
		{"on: no decision, new fleet starts at min", new(int32(9)), hpa(new(true), 3, 10), 0, nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := &meshv1alpha1.Waypoint{Spec: meshv1alpha1.WaypointSpec{Replicas: tc.spec, Autoscaling: tc.auto},
				Status: meshv1alpha1.WaypointStatus{DesiredReplicas: tc.desired}}
			if got := DeploymentReplicas(wp, tc.current); got != tc.want {
				t.Fatalf("DeploymentReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}
