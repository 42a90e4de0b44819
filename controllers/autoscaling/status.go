package autoscaling

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
)

// FieldManager is the server-side-apply field manager of every status field
// the autoscaler writes. The Waypoint reconciler ("wayfabric-waypoint")
// owns the rest of the status, so neither overwrites the other.
const FieldManager = "wayfabric-autoscaler"

// ownedStatus is the part of Waypoint status the autoscaler owns. A nil
// field is left out of the apply, which releases it.
type ownedStatus struct {
	DesiredReplicas *int32
	Load            *meshv1alpha1.WaypointLoad
	Recommendation  *meshv1alpha1.VerticalRecommendation
	Conditions      []metav1.Condition
}

// key is what makes a write urgent: the desired count, the status and reason
// of each condition, whether a recommendation exists and what was applied.
// Load figures, messages and the drifting recommendation are refreshed at
// the status interval instead, so a busy Waypoint costs one write per
// interval, not one per second.
func (o *ownedStatus) key() string {
	var b strings.Builder
	if o.DesiredReplicas != nil {
		fmt.Fprintf(&b, "desired=%d;", *o.DesiredReplicas)
	}
	fmt.Fprintf(&b, "load=%t;", o.Load != nil)
	for _, c := range o.Conditions {
		fmt.Fprintf(&b, "%s=%s/%s;", c.Type, c.Status, c.Reason)
	}
	if r := o.Recommendation; r != nil {
		fmt.Fprintf(&b, "rec;applied=%s;", listString(r.Applied))
		if r.LastApplied != nil {
			fmt.Fprintf(&b, "at=%s;", r.LastApplied.UTC().Format("2006-01-02T15:04:05Z"))
		}
	}
	return b.String()
}

// mergeTimes keeps lastTransitionTime of conditions whose status held.
func (o *ownedStatus) mergeTimes(existing []metav1.Condition, now metav1.Time) {
	for i, c := range o.Conditions {
		o.Conditions[i] = conditions.Merge(existing, c, now)
	}
}

// apply is the server-side-apply body: only owned fields, so the
// reconciler's fields and conditions are untouched.
func (o *ownedStatus) apply(wp *meshv1alpha1.Waypoint) (*unstructured.Unstructured, error) {
	status := map[string]any{}
	if o.DesiredReplicas != nil {
		status["desiredReplicas"] = int64(*o.DesiredReplicas)
	}
	for field, v := range map[string]any{"load": o.Load, "recommendation": o.Recommendation} {
		if isNil(v) {
			continue
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(v)
		if err != nil {
			return nil, fmt.Errorf("rendering status.%s: %w", field, err)
		}
		status[field] = m
	}
	if len(o.Conditions) > 0 {
		conds := make([]any, 0, len(o.Conditions))
		for _, c := range o.Conditions {
			conds = append(conds, conditions.ToApply(c))
		}
		status["conditions"] = conds
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "Waypoint",
		"metadata": map[string]any{"name": wp.Name, "namespace": wp.Namespace},
		"status":   status,
	}}, nil
}

func isNil(v any) bool {
	switch p := v.(type) {
	case *meshv1alpha1.WaypointLoad:
		return p == nil
	case *meshv1alpha1.VerticalRecommendation:
		return p == nil
	}
	return v == nil
}

func listString(m corev1.ResourceList) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		q := m[corev1.ResourceName(k)]
		fmt.Fprintf(&b, "%s:%s,", k, q.String())
	}
	return b.String()
}
