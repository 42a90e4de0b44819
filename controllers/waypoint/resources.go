package waypoint

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// Requests used when spec.resources says nothing: enough for a waypoint
// idling with a few routes; the vertical autoscaler sizes it from there.
var defaultRequests = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("100m"),
	corev1.ResourceMemory: resource.MustParse("128Mi"),
}

// RequestsOverride returns the requests that replace spec.resources' in the
// pod template, or nil to keep them. The default is AppliedRequests.
type RequestsOverride func(*meshv1alpha1.Waypoint) corev1.ResourceList

// AppliedRequests follows the vertical autoscaler in Rolling mode: the
// template carries status.recommendation.applied (what the autoscaler decided
// to apply, with its hysteresis and minimum interval), never the drifting
// target. InPlace mode leaves the template alone on purpose: any template
// change makes the Deployment replace every pod, undoing the in-place resize;
// the autoscaler resizes new pods to Applied as they become ready instead.
// The operator stays the only writer of the template's resources, so the
// autoscaler and the operator never fight over the field.
func AppliedRequests(wp *meshv1alpha1.Waypoint) corev1.ResourceList {
	a := wp.Spec.Autoscaling
	if a == nil || a.Vertical == nil || wp.Status.Recommendation == nil {
		return nil
	}
	if a.Vertical.Mode == meshv1alpha1.VerticalRolling {
		return wp.Status.Recommendation.Applied
	}
	return nil
}

// Resources builds the container resources: spec.resources (or defaults),
// with requests replaced key by key by override. A limit below an overridden
// request is raised to it, as the API server would reject the pod otherwise.
func Resources(spec *corev1.ResourceRequirements, override corev1.ResourceList) corev1.ResourceRequirements {
	out := corev1.ResourceRequirements{Requests: corev1.ResourceList{}}
	if spec != nil {
		out = *spec.DeepCopy()
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
	}
	if spec == nil || len(spec.Requests) == 0 && len(spec.Limits) == 0 {
		for k, v := range defaultRequests {
			out.Requests[k] = v.DeepCopy()
		}
	}
	for k, v := range override {
		out.Requests[k] = v.DeepCopy()
		if lim, ok := out.Limits[k]; ok && lim.Cmp(v) < 0 {
			out.Limits[k] = v.DeepCopy()
		}
	}
	if len(out.Requests) == 0 {
		out.Requests = nil
	}
	return out
}
