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

func TestSetReplacesOrAppendsKeepingTime(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	list := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A", LastTransitionTime: then}}
	Set(&list, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "B"}, now)
	Set(&list, metav1.Condition{Type: "Degraded", Status: metav1.ConditionFalse, Reason: "C"}, now)
	if len(list) != 2 || list[0].Reason != "B" || !list[0].LastTransitionTime.Equal(&then) ||
		list[1].Type != "Degraded" || !list[1].LastTransitionTime.Equal(&now) {
		t.Fatalf("Set gave %+v", list)
	}
}

func TestEqualIgnoresTimesOnly(t *testing.T) {
	base := []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "m", ObservedGeneration: 1}}
	moved := []metav1.Condition{base[0]}
	moved[0].LastTransitionTime = metav1.Now()
	for name, tc := range map[string]struct {
		b     []metav1.Condition
		equal bool
	}{
		"same":                 {base, true},
		"only transition time": {moved, true},
		"other generation":     {[]metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "m", ObservedGeneration: 2}}, false},
		"other status":         {[]metav1.Condition{{Type: "Accepted", Status: "False", Reason: "Accepted", Message: "m", ObservedGeneration: 1}}, false},
		"other message":        {[]metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "n", ObservedGeneration: 1}}, false},
		"extra condition":      {append([]metav1.Condition{base[0]}, metav1.Condition{Type: "X"}), false},
		"none":                 {nil, false},
	} {
		if got := Equal(base, tc.b); got != tc.equal {
			t.Errorf("%s: got %v, want %v", name, got, tc.equal)
		}
	}
}

func TestChanged(t *testing.T) {
	old := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A", Message: "m"}}
	for name, tc := range map[string]struct {
		c       metav1.Condition
		changed bool
	}{
		"same status and reason, other message": {metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A", Message: "n"}, false},
		"other reason":                          {metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "B"}, true},
		"other status":                          {metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "A"}, true},
		"new type":                              {metav1.Condition{Type: "Degraded", Status: metav1.ConditionFalse, Reason: "A"}, true},
	} {
		if got := Changed(old, tc.c); got != tc.changed {
			t.Errorf("%s: Changed = %v, want %v", name, got, tc.changed)
		}
	}
}

func TestToApplyKeepsEveryField(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 500, time.UTC))
	got := ToApply(metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "R", Message: "m", ObservedGeneration: 3, LastTransitionTime: at})
	if len(got) != 1 || *got[0].Type != "Ready" || *got[0].Status != metav1.ConditionFalse || *got[0].Reason != "R" ||
		*got[0].Message != "m" || *got[0].ObservedGeneration != 3 || !got[0].LastTransitionTime.Equal(&metav1.Time{Time: at.Truncate(time.Second)}) {
		t.Fatalf("ToApply = %+v", got[0])
	}
}
