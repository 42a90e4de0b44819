package waypoint

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
)

// OwnedStatus is the part of Waypoint status this reconciler owns. Load,
// recommendation, ScalingActive and ScalingLimited belong to the autoscaler.
type OwnedStatus struct {
	ObservedGeneration int64
	Replicas           int32
	ReadyReplicas      int32
	UpdatedReplicas    int32
	// DesiredReplicas is nil while the horizontal autoscaler owns it.
	DesiredReplicas *int32
	Selector        string
	Version         string
	Conditions      []metav1.Condition
}

// ComputeStatus derives the owned status from the Waypoint, its Deployment
// (nil when absent), the replicas asked for and any write error.
func ComputeStatus(wp *meshv1alpha1.Waypoint, d *appsv1.Deployment, desired int32, version string, applyErr error, now metav1.Time) OwnedStatus {
	st := OwnedStatus{ObservedGeneration: wp.Generation, Selector: Selector(wp), Version: version}
	if d != nil {
		st.Replicas, st.ReadyReplicas, st.UpdatedReplicas = d.Status.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas
	}
	if !wp.HorizontalEnabled() {
		st.DesiredReplicas = new(desired)
	}
	for _, c := range []metav1.Condition{
		ReadyCondition(wp.Generation, d, desired, version),
		ProgressingCondition(wp.Generation, d, desired),
		DegradedCondition(wp.Generation, d, applyErr),
	} {
		st.Conditions = append(st.Conditions, conditions.Merge(wp.Status.Conditions, c, now))
	}
	return st
}

// StatusUpToDate reports whether have already holds st, so no write is needed.
func StatusUpToDate(have meshv1alpha1.WaypointStatus, st OwnedStatus) bool {
	if have.ObservedGeneration != st.ObservedGeneration || have.Replicas != st.Replicas ||
		have.ReadyReplicas != st.ReadyReplicas || have.UpdatedReplicas != st.UpdatedReplicas ||
		have.Selector != st.Selector || have.Version != st.Version {
		return false
	}
	if st.DesiredReplicas != nil && have.DesiredReplicas != *st.DesiredReplicas {
		return false
	}
	for _, c := range st.Conditions {
		if !conditions.Same(have.Conditions, c) {
			return false
		}
	}
	return true
}

// statusApply is the server-side-apply body for the status subresource. It
// names only owned fields, so the autoscaler's fields and conditions survive.
func statusApply(wp *meshv1alpha1.Waypoint, st OwnedStatus) *unstructured.Unstructured {
	conds := make([]any, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, conditions.ToApply(c))
	}
	status := map[string]any{
		"observedGeneration": st.ObservedGeneration,
		"replicas":           int64(st.Replicas),
		"readyReplicas":      int64(st.ReadyReplicas),
		"updatedReplicas":    int64(st.UpdatedReplicas),
		"selector":           st.Selector,
		"version":            st.Version,
		"conditions":         conds,
	}
	if st.DesiredReplicas != nil {
		status["desiredReplicas"] = int64(*st.DesiredReplicas)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "Waypoint",
		"metadata": map[string]any{"name": wp.Name, "namespace": wp.Namespace},
		"status":   status,
	}}
}
