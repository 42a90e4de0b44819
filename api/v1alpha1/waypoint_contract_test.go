package v1alpha1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestHorizontalEnabledAndVerticalMode(t *testing.T) {
	on, off := new(true), new(false)
	for _, tc := range []struct {
		name       string
		a          *WaypointAutoscaling
		horizontal bool
		mode       VerticalMode
	}{
		{"no autoscaling", nil, false, VerticalOff},
		{"horizontal block without enabled is on", &WaypointAutoscaling{Horizontal: &HorizontalAutoscaling{}}, true, VerticalOff},
		{"horizontal disabled", &WaypointAutoscaling{Horizontal: &HorizontalAutoscaling{Enabled: off}}, false, VerticalOff},
		{"vertical block without mode recommends", &WaypointAutoscaling{Vertical: &VerticalAutoscaling{}}, false, VerticalRecommend},
		{"vertical off, horizontal on", &WaypointAutoscaling{Horizontal: &HorizontalAutoscaling{Enabled: on},
			Vertical: &VerticalAutoscaling{Mode: VerticalOff}}, true, VerticalOff},
		{"in place", &WaypointAutoscaling{Vertical: &VerticalAutoscaling{Mode: VerticalInPlace}}, false, VerticalInPlace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := &Waypoint{Spec: WaypointSpec{Autoscaling: tc.a}}
			if wp.HorizontalEnabled() != tc.horizontal || wp.VerticalMode() != tc.mode {
				t.Errorf("horizontal %v mode %v, want %v %v", wp.HorizontalEnabled(), wp.VerticalMode(), tc.horizontal, tc.mode)
			}
		})
	}
}

func TestReplicaBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h      *HorizontalAutoscaling
		lo, hi int32
	}{
		{"no block: CRD defaults", nil, 1, 10},
		{"unset fields: CRD defaults", &HorizontalAutoscaling{}, 1, 10},
		{"set", &HorizontalAutoscaling{MinReplicas: 2, MaxReplicas: 5}, 2, 5},
		{"max below min is raised to min", &HorizontalAutoscaling{MinReplicas: 4, MaxReplicas: 2}, 4, 4},
		{"min above the default max, max unset", &HorizontalAutoscaling{MinReplicas: 12}, 12, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if lo, hi := tc.h.ReplicaBounds(); lo != tc.lo || hi != tc.hi {
				t.Fatalf("ReplicaBounds = %d..%d, want %d..%d", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

func TestDeploymentAndStartingReplicas(t *testing.T) {
	hpa := func(enabled *bool, lo, hi int32) *WaypointAutoscaling {
		return &WaypointAutoscaling{Horizontal: &HorizontalAutoscaling{Enabled: enabled, MinReplicas: lo, MaxReplicas: hi}}
	}
	for _, tc := range []struct {
		name           string
		spec           *int32
		auto           *WaypointAutoscaling
		desired        int32
		running        *int32
		want, starting int32
	}{
		{"off: spec.replicas", new(int32(3)), nil, 0, new(int32(7)), 3, 7},
		{"off: unset spec defaults to 1", nil, nil, 0, nil, 1, 1},
		{"off: explicit disabled ignores status", new(int32(2)), hpa(new(false), 1, 10), 9, nil, 2, 9},
		{"off: zero replicas is honoured", new(int32(0)), nil, 0, nil, 0, 1},
		{"on (enabled unset): autoscaler decision", new(int32(1)), hpa(nil, 2, 10), 5, new(int32(3)), 5, 3},
		{"on: decision clamped to max", nil, hpa(new(true), 2, 10), 50, nil, 10, 10},
		{"on: decision clamped to min", nil, hpa(new(true), 2, 10), 1, nil, 2, 2},
		{"on: no decision keeps the running count", new(int32(1)), hpa(new(true), 2, 10), 0, new(int32(6)), 6, 6},
		{"on: no decision clamps the running count", nil, hpa(new(true), 2, 4), 0, new(int32(6)), 4, 4},
		{"on: no decision, new fleet starts at min", new(int32(9)), hpa(new(true), 3, 10), 0, nil, 3, 3},
		{"on: unset bounds use the CRD defaults", nil, hpa(nil, 0, 0), 0, new(int32(30)), 10, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := &Waypoint{Spec: WaypointSpec{Replicas: tc.spec, Autoscaling: tc.auto}, Status: WaypointStatus{DesiredReplicas: tc.desired}}
			if got := wp.DeploymentReplicas(tc.running); got != tc.want {
				t.Errorf("DeploymentReplicas = %d, want %d", got, tc.want)
			}
			if got := wp.StartingReplicas(tc.running); got != tc.starting {
				t.Errorf("StartingReplicas = %d, want %d", got, tc.starting)
			}
		})
	}
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func sameList(a, b corev1.ResourceList) bool {
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

func TestContainerResources(t *testing.T) {
	spec := &corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "128Mi", "ephemeral-storage", "1Gi"), Limits: rl("cpu", "200m", "memory", "128Mi")}
	for _, tc := range []struct {
		name           string
		spec           *corev1.ResourceRequirements
		requests       corev1.ResourceList
		wantReq, wantL corev1.ResourceList
	}{
		{"no spec: default requests", nil, nil, rl("cpu", "100m", "memory", "128Mi"), nil},
		{"spec as written", spec, nil, spec.Requests, spec.Limits},
		{"limits only: no default requests (the API server copies limits)", &corev1.ResourceRequirements{Limits: rl("memory", "1Gi")}, nil, nil, rl("memory", "1Gi")},
		{"no spec: requests replace the defaults", nil, rl("cpu", "300m", "memory", "512Mi"), rl("cpu", "300m", "memory", "512Mi"), nil},
		{"requests replaced, limits keep their ratio, other resources untouched", spec, rl("cpu", "300m", "memory", "512Mi"),
			rl("cpu", "300m", "memory", "512Mi", "ephemeral-storage", "1Gi"), rl("cpu", "600m", "memory", "512Mi")},
		{"only the given resources are replaced", spec, rl("memory", "256Mi"),
			rl("cpu", "100m", "memory", "256Mi", "ephemeral-storage", "1Gi"), rl("cpu", "200m", "memory", "256Mi")},
		{"a lower request lowers the limit too", &corev1.ResourceRequirements{Requests: rl("memory", "64Mi"), Limits: rl("memory", "128Mi")},
			rl("memory", "48Mi"), rl("memory", "48Mi"), rl("memory", "96Mi")},
		{"a limit without a request is kept, or raised to the new request", &corev1.ResourceRequirements{Limits: rl("cpu", "1", "memory", "256Mi")},
			rl("cpu", "300m", "memory", "512Mi"), rl("cpu", "300m", "memory", "512Mi"), rl("cpu", "1", "memory", "512Mi")},
		{"memory limits round up to whole MiB", &corev1.ResourceRequirements{Requests: rl("memory", "96Mi"), Limits: rl("memory", "512Mi")},
			rl("memory", "200Mi"), rl("memory", "200Mi"), rl("memory", "1067Mi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := &Waypoint{Spec: WaypointSpec{Resources: tc.spec}}
			var before *corev1.ResourceRequirements
			if tc.spec != nil {
				before = tc.spec.DeepCopy()
			}
			got := wp.ContainerResources(tc.requests)
			if !sameList(got.Requests, tc.wantReq) || !sameList(got.Limits, tc.wantL) {
				t.Fatalf("ContainerResources = %v / %v, want %v / %v", got.Requests, got.Limits, tc.wantReq, tc.wantL)
			}
			if tc.spec != nil && (!sameList(tc.spec.Requests, before.Requests) || !sameList(tc.spec.Limits, before.Limits)) {
				t.Fatal("the spec was modified")
			}
		})
	}
}

func TestAppliedAndTemplateResources(t *testing.T) {
	spec := &corev1.ResourceRequirements{Requests: rl("cpu", "100m"), Limits: rl("cpu", "200m")}
	rec := &VerticalRecommendation{Target: rl("cpu", "900m"), Applied: rl("cpu", "300m")}
	for _, tc := range []struct {
		name                 string
		mode                 VerticalMode
		rec                  *VerticalRecommendation
		applied, templateCPU corev1.ResourceList
	}{
		{"rolling: the template follows applied, not target", VerticalRolling, rec, rl("cpu", "300m"), rl("cpu", "300m")},
		{"in place: pods get applied, the template keeps the spec", VerticalInPlace, rec, rl("cpu", "300m"), rl("cpu", "100m")},
		{"recommend only applies nothing", VerticalRecommend, rec, nil, rl("cpu", "100m")},
		{"off", VerticalOff, rec, nil, rl("cpu", "100m")},
		{"nothing applied yet", VerticalRolling, &VerticalRecommendation{Target: rl("cpu", "1")}, nil, rl("cpu", "100m")},
		{"no recommendation", VerticalRolling, nil, nil, rl("cpu", "100m")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wp := &Waypoint{
				Spec:   WaypointSpec{Resources: spec, Autoscaling: &WaypointAutoscaling{Vertical: &VerticalAutoscaling{Mode: tc.mode}}},
				Status: WaypointStatus{Recommendation: tc.rec},
			}
			if got := wp.AppliedRequests(); !sameList(got, tc.applied) {
				t.Errorf("AppliedRequests = %v, want %v", got, tc.applied)
			}
			if got := wp.TemplateResources().Requests; !sameList(got, tc.templateCPU) {
				t.Errorf("TemplateResources requests = %v, want %v", got, tc.templateCPU)
			}
		})
	}
	if (&Waypoint{}).AppliedRequests() != nil {
		t.Fatal("no autoscaling block: nil")
	}
}
