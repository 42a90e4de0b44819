package waypoint

import meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"

// horizontalOn reports whether the horizontal autoscaler owns the replica
// count. Enabled defaults to true (the CRD default) when the block exists.
func horizontalOn(wp *meshv1alpha1.Waypoint) bool {
	a := wp.Spec.Autoscaling
	if a == nil || a.Horizontal == nil {
		return false
	}
	return a.Horizontal.Enabled == nil || *a.Horizontal.Enabled
}

// specReplicas is spec.replicas, 1 when unset (the CRD default).
func specReplicas(wp *meshv1alpha1.Waypoint) int32 {
	if wp.Spec.Replicas != nil {
		return *wp.Spec.Replicas
	}
	return 1
}

// DeploymentReplicas is the replica count the Deployment must have.
// Autoscaling off: spec.replicas. On: the autoscaler's status.desiredReplicas
// clamped to [min, max]; before the autoscaler has decided, the current
// Deployment's count (clamped) so a reconcile never resets a running fleet,
// or minReplicas for a new one. current is nil when no Deployment exists.
func DeploymentReplicas(wp *meshv1alpha1.Waypoint, current *int32) int32 {
	if !horizontalOn(wp) {
		return specReplicas(wp)
	}
	h := wp.Spec.Autoscaling.Horizontal
	lo, hi := max(h.MinReplicas, 1), h.MaxReplicas
	if hi < lo {
		hi = lo
	}
	n := wp.Status.DesiredReplicas
	if n == 0 {
		if current == nil {
			return lo
		}
		n = *current
	}
	return min(max(n, lo), hi)
}
