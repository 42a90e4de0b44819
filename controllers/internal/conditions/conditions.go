// Package conditions is how every reconciler handles status conditions:
// freshly computed conditions are merged into the existing ones without
// moving lastTransitionTime unless the status changed, compared without
// their times so unchanged status is never rewritten, and rendered as typed
// server-side-apply configurations.
package conditions

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// ReasonReadFailed: what a condition depends on could not be read.
const ReasonReadFailed = "ReadFailed"

// Unknown says a condition cannot be judged because what it depends on could
// not be read (err says what).
func Unknown(conditionType string, generation int64, err error) metav1.Condition {
	return metav1.Condition{Type: conditionType, Status: metav1.ConditionUnknown, ObservedGeneration: generation,
		Reason: ReasonReadFailed, Message: err.Error()}
}

// Merge returns want with LastTransitionTime taken from the existing
// condition of the same type when its status is unchanged, else now.
func Merge(existing []metav1.Condition, want metav1.Condition, now metav1.Time) metav1.Condition {
	want.LastTransitionTime = now
	if old := meta.FindStatusCondition(existing, want.Type); old != nil && old.Status == want.Status {
		want.LastTransitionTime = old.LastTransitionTime
	}
	return want
}

// Set merges want into *list (Merge's transition-time rule), replacing the
// condition of its type or appending it.
func Set(list *[]metav1.Condition, want metav1.Condition, now metav1.Time) {
	want = Merge(*list, want, now)
	for i := range *list {
		if (*list)[i].Type == want.Type {
			(*list)[i] = want
			return
		}
	}
	*list = append(*list, want)
}

// Same reports whether have holds a condition equal to want in everything
// but the transition time.
func Same(have []metav1.Condition, want metav1.Condition) bool {
	old := meta.FindStatusCondition(have, want.Type)
	return old != nil && old.Status == want.Status && old.Reason == want.Reason &&
		old.Message == want.Message && old.ObservedGeneration == want.ObservedGeneration
}

// Changed reports whether c differs in status or reason from the condition
// of its type in old: a change worth an event (a new message alone is not).
func Changed(old []metav1.Condition, c metav1.Condition) bool {
	prev := meta.FindStatusCondition(old, c.Type)
	return prev == nil || prev.Status != c.Status || prev.Reason != c.Reason
}

// Equal reports whether two condition lists say the same thing, in the same
// order, ignoring transition times.
func Equal(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !Same(b[i:i+1], a[i]) {
			return false
		}
	}
	return true
}

// ToApply renders conditions as server-side-apply configurations.
func ToApply(cs ...metav1.Condition) []*metav1ac.ConditionApplyConfiguration {
	out := make([]*metav1ac.ConditionApplyConfiguration, 0, len(cs))
	for _, c := range cs {
		out = append(out, metav1ac.Condition().WithType(c.Type).WithStatus(c.Status).WithReason(c.Reason).
			WithMessage(c.Message).WithObservedGeneration(c.ObservedGeneration).
			WithLastTransitionTime(metav1.NewTime(c.LastTransitionTime.UTC().Truncate(time.Second))))
	}
	return out
}
