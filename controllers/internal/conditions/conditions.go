// Package conditions merges freshly computed status conditions into the
// existing ones without moving lastTransitionTime unless the status changed.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Merge returns want with LastTransitionTime taken from the existing
// condition of the same type when its status is unchanged, else now.
func Merge(existing []metav1.Condition, want metav1.Condition, now metav1.Time) metav1.Condition {
	want.LastTransitionTime = now
	if old := meta.FindStatusCondition(existing, want.Type); old != nil && old.Status == want.Status {
		want.LastTransitionTime = old.LastTransitionTime
	}
	return want
}

// Same reports whether have holds a condition equal to want in everything
// but the transition time.
func Same(have []metav1.Condition, want metav1.Condition) bool {
	old := meta.FindStatusCondition(have, want.Type)
	return old != nil && old.Status == want.Status && old.Reason == want.Reason &&
		old.Message == want.Message && old.ObservedGeneration == want.ObservedGeneration
}

// ToApply renders a condition as a server-side-apply list item.
func ToApply(c metav1.Condition) map[string]any {
	return map[string]any{
		"type": c.Type, "status": string(c.Status), "reason": c.Reason, "message": c.Message,
		"observedGeneration": c.ObservedGeneration,
		"lastTransitionTime": c.LastTransitionTime.UTC().Format("2006-01-02T15:04:05Z"),
	}
}
