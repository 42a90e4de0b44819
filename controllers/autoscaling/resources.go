package autoscaling

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
)

// EffectiveResources is what a running waypoint container should request:
// spec.resources, with the CPU and memory requests replaced by
// status.recommendation.applied when the vertical mode applies
// recommendations (InPlace or Rolling). Limits keep their ratio to the
// request, as the VPA does; a limit without a request is kept, but never left
// below the new request. The in-place resize sizes pods with it; the
// Deployment template is the Waypoint reconciler's (waypoint.AppliedRequests,
// Rolling mode only).
func EffectiveResources(wp *meshv1alpha1.Waypoint) corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	if wp.Spec.Resources != nil {
		out = *wp.Spec.Resources.DeepCopy()
	}
	applied := appliedRequests(wp)
	if len(applied) == 0 {
		return out
	}
	newReq := toResources(applied)
	scaled := vertical.ScaleLimits(toResources(out.Requests), toResources(out.Limits), newReq)
	if out.Requests == nil {
		out.Requests = corev1.ResourceList{}
	}
	for name, q := range applied {
		out.Requests[name] = q.DeepCopy()
		lim, hasLimit := out.Limits[name]
		if !hasLimit {
			continue
		}
		if v := get(scaled, name); v > 0 {
			out.Limits[name] = quantity(name, v)
		} else if lim.Cmp(q) < 0 {
			out.Limits[name] = q.DeepCopy()
		}
	}
	return out
}

// appliedRequests returns the applied CPU and memory requests when the
// vertical mode is InPlace or Rolling, else nil.
func appliedRequests(wp *meshv1alpha1.Waypoint) corev1.ResourceList {
	switch verticalMode(wp) {
	case vertical.ModeInPlace, vertical.ModeRolling:
	default:
		return nil
	}
	rec := wp.Status.Recommendation
	if rec == nil {
		return nil
	}
	out := corev1.ResourceList{}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := rec.Applied[name]; ok && q.Sign() > 0 {
			out[name] = q.DeepCopy()
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// toResources reads CPU and memory out of a ResourceList.
func toResources(l corev1.ResourceList) vertical.Resources {
	var r vertical.Resources
	if q, ok := l[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := l[corev1.ResourceMemory]; ok {
		r.MemoryBytes = q.Value()
	}
	return r
}

// toList renders Resources as a ResourceList, leaving out zero fields.
func toList(r vertical.Resources) corev1.ResourceList {
	out := corev1.ResourceList{}
	if r.MilliCPU > 0 {
		out[corev1.ResourceCPU] = quantity(corev1.ResourceCPU, r.MilliCPU)
	}
	if r.MemoryBytes > 0 {
		out[corev1.ResourceMemory] = quantity(corev1.ResourceMemory, r.MemoryBytes)
	}
	return out
}

func get(r vertical.Resources, name corev1.ResourceName) int64 {
	switch name {
	case corev1.ResourceCPU:
		return r.MilliCPU
	case corev1.ResourceMemory:
		return r.MemoryBytes
	}
	return 0
}

// quantity renders CPU in millicores and memory in binary units, the way
// people write them (250m, 512Mi).
func quantity(name corev1.ResourceName, v int64) resource.Quantity {
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	return *resource.NewQuantity(v, resource.BinarySI)
}
