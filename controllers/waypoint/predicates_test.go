package waypoint

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestRelevantChange(t *testing.T) {
	base := &meshv1alpha1.Waypoint{}
	base.Generation = 1
	for _, tc := range []struct {
		name   string
		mutate func(*meshv1alpha1.Waypoint)
		want   bool
	}{
		{"nothing", func(*meshv1alpha1.Waypoint) {}, false},
		{"load report only", func(w *meshv1alpha1.Waypoint) {
			w.Status.Load = &meshv1alpha1.WaypointLoad{RequestsPerSecond: 900}
		}, false},
		{"spec (generation)", func(w *meshv1alpha1.Waypoint) { w.Generation = 2 }, true},
		{"autoscaler decision", func(w *meshv1alpha1.Waypoint) { w.Status.DesiredReplicas = 4 }, true},
		{"vertical recommendation", func(w *meshv1alpha1.Waypoint) {
			w.Status.Recommendation = &meshv1alpha1.VerticalRecommendation{Target: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := base.DeepCopy()
			tc.mutate(n)
			if got := RelevantChange(base, n); got != tc.want {
				t.Fatalf("RelevantChange = %v, want %v", got, tc.want)
			}
		})
	}
}
