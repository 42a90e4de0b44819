package waypoint

import (
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshac "github.com/wayfabric/wayfabric/api/applyconfiguration/api/v1alpha1"
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
// (nil when absent), the replicas asked for and the error that marred the
// reconcile, if any.
func ComputeStatus(wp *meshv1alpha1.Waypoint, d *appsv1.Deployment, desired int32, version string, err error, now metav1.Time) OwnedStatus {
	st := OwnedStatus{ObservedGeneration: wp.Generation, Selector: Selector(wp), Version: version}
	if d != nil {
		st.Replicas, st.ReadyReplicas, st.UpdatedReplicas = d.Status.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas
	}
	if !wp.HorizontalEnabled() {
		st.DesiredReplicas = new(desired)
	}
	conds := []metav1.Condition{
		ReadyCondition(wp.Generation, d, desired, version),
		ProgressingCondition(wp.Generation, d, desired),
		DegradedCondition(wp.Generation, d, err),
	}
	if unread := new(unreadError); errors.As(err, unread) {
		conds[0] = conditions.Unknown(meshv1alpha1.ConditionReady, wp.Generation, err)
		conds[1] = conditions.Unknown(meshv1alpha1.ConditionProgressing, wp.Generation, err)
	}
	for _, c := range conds {
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

// statusApply is the server-side apply of the status subresource. It names
// only owned fields, so the autoscaler's fields and conditions survive.
func statusApply(wp *meshv1alpha1.Waypoint, st OwnedStatus) *meshac.WaypointApplyConfiguration {
	status := meshac.WaypointStatus().
		WithObservedGeneration(st.ObservedGeneration).
		WithReplicas(st.Replicas).
		WithReadyReplicas(st.ReadyReplicas).
		WithUpdatedReplicas(st.UpdatedReplicas).
		WithSelector(st.Selector).
		WithVersion(st.Version).
		WithConditions(conditions.ToApply(st.Conditions...)...)
	if st.DesiredReplicas != nil {
		status.WithDesiredReplicas(*st.DesiredReplicas)
	}
	return meshac.Waypoint(wp.Name, wp.Namespace).WithStatus(status)
}
