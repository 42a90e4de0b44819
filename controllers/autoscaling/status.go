package autoscaling

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshac "github.com/wayfabric/wayfabric/api/applyconfiguration/api/v1alpha1"
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

// apply is the server-side apply of the status subresource: only owned
// fields, so the reconciler's fields and conditions are untouched; a nil
// field is left out, which releases it.
func (o *ownedStatus) apply(wp *meshv1alpha1.Waypoint) *meshac.WaypointApplyConfiguration {
	status := meshac.WaypointStatus().WithConditions(conditions.ToApply(o.Conditions...)...)
	if o.DesiredReplicas != nil {
		status.WithDesiredReplicas(*o.DesiredReplicas)
	}
	if l := o.Load; l != nil {
		load := meshac.WaypointLoad().WithRequestsPerSecond(l.RequestsPerSecond).WithReportingReplicas(l.ReportingReplicas)
		optional(load.WithConcurrency, l.Concurrency)
		optional(load.WithP50Latency, l.P50Latency)
		optional(load.WithP99Latency, l.P99Latency)
		optional(load.WithCPUPerReplica, l.CPUPerReplica)
		optional(load.WithMemoryPerReplica, l.MemoryPerReplica)
		optional(load.WithObservedAt, l.ObservedAt)
		status.WithLoad(load)
	}
	if r := o.Recommendation; r != nil {
		rec := meshac.VerticalRecommendation()
		for _, f := range []struct {
			set  func(corev1.ResourceList) *meshac.VerticalRecommendationApplyConfiguration
			list corev1.ResourceList
		}{{rec.WithTarget, r.Target}, {rec.WithLowerBound, r.LowerBound}, {rec.WithUpperBound, r.UpperBound}, {rec.WithApplied, r.Applied}} {
			if len(f.list) > 0 { // an empty list is left out, as the API type's omitempty does
				f.set(f.list)
			}
		}
		optional(rec.WithLastApplied, r.LastApplied)
		status.WithRecommendation(rec)
	}
	return meshac.Waypoint(wp.Name, wp.Namespace).WithStatus(status)
}

// optional calls set with *v when v is set.
func optional[T, R any](set func(T) R, v *T) {
	if v != nil {
		set(*v)
	}
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
