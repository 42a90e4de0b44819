package autoscaling

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func list(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestEffectiveResources(t *testing.T) {
	spec := &corev1.ResourceRequirements{Requests: list("cpu", "100m", "memory", "128Mi", "ephemeral-storage", "1Gi"), Limits: list("cpu", "200m", "memory", "128Mi")}
	applied := list("cpu", "300m", "memory", "512Mi")
	cases := []struct {
		name    string
		mode    meshv1alpha1.VerticalMode
		spec    *corev1.ResourceRequirements
		applied corev1.ResourceList
		want    corev1.ResourceRequirements
	}{
		{name: "Recommend never changes the template", mode: meshv1alpha1.VerticalRecommend, spec: spec, applied: applied, want: *spec},
		{name: "Off never changes the template", mode: meshv1alpha1.VerticalOff, spec: spec, applied: applied, want: *spec},
		{name: "nothing applied yet keeps spec", mode: meshv1alpha1.VerticalRolling, spec: spec, want: *spec},
		{name: "Rolling: applied requests, limits keep their ratio, other resources untouched", mode: meshv1alpha1.VerticalRolling, spec: spec, applied: applied,
			want: corev1.ResourceRequirements{Requests: list("cpu", "300m", "memory", "512Mi", "ephemeral-storage", "1Gi"), Limits: list("cpu", "600m", "memory", "512Mi")}},
		{name: "InPlace: the same, so new pods match the resized ones", mode: meshv1alpha1.VerticalInPlace, spec: spec, applied: applied,
			want: corev1.ResourceRequirements{Requests: list("cpu", "300m", "memory", "512Mi", "ephemeral-storage", "1Gi"), Limits: list("cpu", "600m", "memory", "512Mi")}},
		{name: "no spec resources: requests only", mode: meshv1alpha1.VerticalRolling, applied: applied,
			want: corev1.ResourceRequirements{Requests: applied}},
		{name: "a limit without a request is kept, or raised to the new request", mode: meshv1alpha1.VerticalRolling,
			spec: &corev1.ResourceRequirements{Limits: list("cpu", "1", "memory", "256Mi")}, applied: applied,
			want: corev1.ResourceRequirements{Requests: applied, Limits: list("cpu", "1", "memory", "512Mi")}},
		{name: "only the applied resources are replaced", mode: meshv1alpha1.VerticalRolling, spec: spec, applied: list("memory", "256Mi"),
			want: corev1.ResourceRequirements{Requests: list("cpu", "100m", "memory", "256Mi", "ephemeral-storage", "1Gi"), Limits: list("cpu", "200m", "memory", "256Mi")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wp := &meshv1alpha1.Waypoint{Spec: meshv1alpha1.WaypointSpec{Resources: tc.spec,
				Autoscaling: &meshv1alpha1.WaypointAutoscaling{Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: tc.mode}}}}
			if tc.applied != nil {
				wp.Status.Recommendation = &meshv1alpha1.VerticalRecommendation{Target: list("cpu", "1"), Applied: tc.applied}
			}
			var before corev1.ResourceRequirements
			if tc.spec != nil {
				before = *tc.spec.DeepCopy()
			}
			got := EffectiveResources(wp)
			if !sameList(got.Requests, tc.want.Requests) || !sameList(got.Limits, tc.want.Limits) {
				t.Errorf("got requests %v limits %v, want %v %v", got.Requests, got.Limits, tc.want.Requests, tc.want.Limits)
			}
			if tc.spec != nil && (!sameList(tc.spec.Requests, before.Requests) || !sameList(tc.spec.Limits, before.Limits)) {
				t.Error("the spec was modified")
			}
		})
	}
}

func sameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}
