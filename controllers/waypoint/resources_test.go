package waypoint

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		name           string
		spec           *corev1.ResourceRequirements
		override       corev1.ResourceList
		wantReq, wantL corev1.ResourceList
	}{
		{"defaults", nil, nil, rl("cpu", "100m", "memory", "128Mi"), nil},
		{"spec wins", &corev1.ResourceRequirements{Requests: rl("cpu", "1")}, nil, rl("cpu", "1"), nil},
		{"limits only: no default requests (the API server copies limits)", &corev1.ResourceRequirements{Limits: rl("memory", "1Gi")}, nil, nil, rl("memory", "1Gi")},
		{"override replaces requests key by key", &corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "64Mi")}, rl("memory", "256Mi"), rl("cpu", "1", "memory", "256Mi"), nil},
		{"override raises a lower limit", &corev1.ResourceRequirements{Requests: rl("memory", "64Mi"), Limits: rl("memory", "128Mi")}, rl("memory", "512Mi"), rl("memory", "512Mi"), rl("memory", "512Mi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Resources(tc.spec, tc.override)
			if !equalRL(got.Requests, tc.wantReq) || !equalRL(got.Limits, tc.wantL) {
				t.Fatalf("Resources = %v / %v, want %v / %v", got.Requests, got.Limits, tc.wantReq, tc.wantL)
			}
		})
	}
}

func TestResourcesDoesNotAliasSpec(t *testing.T) {
	spec := &corev1.ResourceRequirements{Requests: rl("cpu", "1")}
	_ = Resources(spec, rl("cpu", "2"))
	if q := spec.Requests[corev1.ResourceCPU]; q.String() != "1" {
		t.Fatalf("spec was modified: %v", spec.Requests)
	}
}

func equalRL(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w.Cmp(v) != 0 {
			return false
		}
	}
	return true
}

func TestAppliedRequests(t *testing.T) {
	applied := rl("cpu", "300m")
	rec := &meshv1alpha1.VerticalRecommendation{Target: rl("cpu", "900m"), Applied: applied}
	for _, tc := range []struct {
		name string
		mode meshv1alpha1.VerticalMode
		rec  *meshv1alpha1.VerticalRecommendation
		want corev1.ResourceList
	}{
		{"rolling follows applied, not target", meshv1alpha1.VerticalRolling, rec, applied},
		{"in place keeps the template (pods are resized in place)", meshv1alpha1.VerticalInPlace, rec, nil},
		{"recommend only leaves the template alone", meshv1alpha1.VerticalRecommend, rec, nil},
		{"off", meshv1alpha1.VerticalOff, rec, nil},
		{"nothing applied yet", meshv1alpha1.VerticalRolling, &meshv1alpha1.VerticalRecommendation{Target: rl("cpu", "1")}, nil},
		{"no recommendation", meshv1alpha1.VerticalRolling, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := &meshv1alpha1.Waypoint{
				Spec:   meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: tc.mode}}},
				Status: meshv1alpha1.WaypointStatus{Recommendation: tc.rec},
			}
			if got := AppliedRequests(wp); !equalRL(got, tc.want) {
				t.Fatalf("AppliedRequests = %v, want %v", got, tc.want)
			}
		})
	}
	if AppliedRequests(&meshv1alpha1.Waypoint{}) != nil {
		t.Fatal("no autoscaling block: nil")
	}
}
