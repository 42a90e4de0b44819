package conditions

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMergeKeepsTransitionTimeWhileStatusHolds(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	existing := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A", LastTransitionTime: then}}
	for _, tc := range []struct {
		name   string
		status metav1.ConditionStatus
		typ    string
		want   metav1.Time
	}{
		{"same status keeps time", metav1.ConditionTrue, "Ready", then},
		{"flipped status moves time", metav1.ConditionFalse, "Ready", now},
		{"new type gets now", metav1.ConditionTrue, "Degraded", now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(existing, metav1.Condition{Type: tc.typ, Status: tc.status, Reason: "B"}, now)
			if !got.LastTransitionTime.Equal(&tc.want) {
				t.Fatalf("lastTransitionTime = %v, want %v", got.LastTransitionTime, tc.want)
			}
		})
	}
}

func TestSame(t *testing.T) {
	base := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A", Message: "m", ObservedGeneration: 2}
	have := []metav1.Condition{base}
	for _, tc := range []struct {
		name   string
		mutate func(*metav1.Condition)
		same   bool
	}{
		{"identical", func(*metav1.Condition) {}, true},
		{"other time only", func(c *metav1.Condition) { c.LastTransitionTime = metav1.Now() }, true},
		{"other reason", func(c *metav1.Condition) { c.Reason = "B" }, false},
		{"other message", func(c *metav1.Condition) { c.Message = "n" }, false},
		{"other generation", func(c *metav1.Condition) { c.ObservedGeneration = 3 }, false},
		{"absent type", func(c *metav1.Condition) { c.Type = "Degraded" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := base
			tc.mutate(&w)
			if got := Same(have, w); got != tc.same {
				t.Fatalf("Same = %v, want %v", got, tc.same)
			}
		})
	}
}
