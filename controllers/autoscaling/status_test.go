package autoscaling

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func list(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func baseStatus() *ownedStatus {
	return &ownedStatus{
		DesiredReplicas: new(int32(3)),
		Load:            &meshv1alpha1.WaypointLoad{RequestsPerSecond: 100, ReportingReplicas: 3},
		Recommendation:  &meshv1alpha1.VerticalRecommendation{Target: list("cpu", "200m")},
		Conditions: []metav1.Condition{
			{Type: meshv1alpha1.ConditionScalingActive, Status: metav1.ConditionTrue, Reason: "WithinTolerance", Message: "load 20"},
			{Type: meshv1alpha1.ConditionScalingLimited, Status: metav1.ConditionFalse, Reason: ReasonWithinLimits},
		},
	}
}

// Only changes a reader acts on make a write urgent; load figures,
// messages and the drifting target wait for the status interval.
func TestStatusKey(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*ownedStatus)
		urgent bool
	}{
		{"nothing changed", func(*ownedStatus) {}, false},
		{"load figures", func(o *ownedStatus) { o.Load.RequestsPerSecond = 250 }, false},
		{"condition message", func(o *ownedStatus) { o.Conditions[0].Message = "load 21" }, false},
		{"recommended target", func(o *ownedStatus) { o.Recommendation.Target = list("cpu", "210m") }, false},
		{"desired replicas", func(o *ownedStatus) { o.DesiredReplicas = new(int32(4)) }, true},
		{"condition reason", func(o *ownedStatus) { o.Conditions[0].Reason = "Panic" }, true},
		{"condition status", func(o *ownedStatus) { o.Conditions[1].Status = metav1.ConditionTrue }, true},
		{"applied requests", func(o *ownedStatus) { o.Recommendation.Applied = list("cpu", "200m") }, true},
		{"last applied", func(o *ownedStatus) { o.Recommendation.LastApplied = &metav1.Time{Time: time.Unix(100, 0)} }, true},
		{"first load", func(o *ownedStatus) { o.Load = nil }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := baseStatus()
			before := o.key()
			tc.mutate(o)
			if urgent := o.key() != before; urgent != tc.urgent {
				t.Errorf("urgent = %v, want %v", urgent, tc.urgent)
			}
		})
	}
}

// The apply body names only the autoscaler's fields: naming replicas,
// readyReplicas or the reconciler's conditions would steal them.
func TestStatusApplyNamesOnlyOwnedFields(t *testing.T) {
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "wp"}}
	cases := []struct {
		name string
		o    *ownedStatus
		want []string
	}{
		{"everything", baseStatus(), []string{"conditions", "desiredReplicas", "load", "recommendation"}},
		{"vertical only", &ownedStatus{Recommendation: &meshv1alpha1.VerticalRecommendation{Target: list("cpu", "1")}}, []string{"recommendation"}},
		{"release: nothing", &ownedStatus{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status := rendered(t, tc.o.apply(wp))
			var got []string
			for k := range status {
				got = append(got, k)
			}
			sort.Strings(got)
			if len(got) != len(tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("fields %v, want %v", got, tc.want)
				}
			}
			if l, ok := status["load"].(map[string]any); ok && l["requestsPerSecond"] != float64(100) {
				t.Errorf("load rendered as %v", l)
			}
		})
	}
}

// An idle fleet still reports 0 requests/s and 0 replicas, as the API type
// (no omitempty) renders them, and no latencies.
func TestStatusApplyRendersAnIdleLoad(t *testing.T) {
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "wp"}}
	status := rendered(t, (&ownedStatus{Load: &meshv1alpha1.WaypointLoad{}}).apply(wp))
	load, _ := status["load"].(map[string]any)
	if len(load) != 2 || load["requestsPerSecond"] != float64(0) || load["reportingReplicas"] != float64(0) {
		t.Fatalf("idle load rendered as %v", load)
	}
}

// rendered is the status of an apply configuration as the API server gets it.
func rendered(t *testing.T, ac any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		Kind   string         `json:"kind"`
		Status map[string]any `json:"status"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Kind != "Waypoint" {
		t.Fatalf("rendered %s: %v", raw, err)
	}
	return obj.Status
}
