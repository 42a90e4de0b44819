package v1alpha1

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// What the operator, the autoscaler and the waypoint pods agree on about a
// Waypoint. Every component reads these facts here instead of deciding them
// again, so they cannot drift apart.

// LabelWaypoint names the Waypoint a pod belongs to; the operator sets it on
// every waypoint pod and the autoscaler selects the pods by it.
const LabelWaypoint = "mesh.wayfabric.io/waypoint"

// WaypointContainerName is the proxy's container in a waypoint pod.
const WaypointContainerName = "waypoint"

// Defaults of the spec (the CRD's defaults), applied where a Waypoint was
// built without the API server's defaulting (Go clients, tests, old objects).
const (
	DefaultWaypointReplicas = 1
	DefaultMinReplicas      = 1
	DefaultMaxReplicas      = 10
)

// DefaultWaypointRequests are a waypoint container's requests when
// spec.resources sets neither requests nor limits: enough for a waypoint
// idling with a few routes; the vertical autoscaler sizes it from there.
func DefaultWaypointRequests() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("128Mi"),
	}
}

// HorizontalEnabled reports whether the horizontal autoscaler owns the
// replica count: the horizontal block exists and enabled is not false (it
// defaults to true).
func (wp *Waypoint) HorizontalEnabled() bool {
	a := wp.Spec.Autoscaling
	return a != nil && a.Horizontal != nil && (a.Horizontal.Enabled == nil || *a.Horizontal.Enabled)
}

// VerticalMode is spec.autoscaling.vertical.mode: Off without the vertical
// block, Recommend (the CRD default) when the block names no mode.
func (wp *Waypoint) VerticalMode() VerticalMode {
	a := wp.Spec.Autoscaling
	switch {
	case a == nil || a.Vertical == nil:
		return VerticalOff
	case a.Vertical.Mode == "":
		return VerticalRecommend
	}
	return a.Vertical.Mode
}

// SpecReplicas is spec.replicas, DefaultWaypointReplicas when unset.
func (wp *Waypoint) SpecReplicas() int32 {
	if wp.Spec.Replicas != nil {
		return *wp.Spec.Replicas
	}
	return DefaultWaypointReplicas
}

// ReplicaBounds are the horizontal autoscaler's floor and ceiling: minReplicas
// (at least 1) and maxReplicas (never below the floor), with the CRD defaults
// for unset fields. h may be nil.
func (h *HorizontalAutoscaling) ReplicaBounds() (lo, hi int32) {
	lo, hi = DefaultMinReplicas, DefaultMaxReplicas
	if h != nil && h.MinReplicas > 0 {
		lo = h.MinReplicas
	}
	if h != nil && h.MaxReplicas > 0 {
		hi = h.MaxReplicas
	}
	return lo, max(hi, lo)
}

// ClampReplicas bounds n by ReplicaBounds.
func (h *HorizontalAutoscaling) ClampReplicas(n int32) int32 {
	lo, hi := h.ReplicaBounds()
	return min(max(n, lo), hi)
}

func (wp *Waypoint) horizontal() *HorizontalAutoscaling {
	if wp.Spec.Autoscaling == nil {
		return nil
	}
	return wp.Spec.Autoscaling.Horizontal
}

// StartingReplicas is the replica count an autoscaled Waypoint has before the
// autoscaler's first decision: the running Deployment's (running; nil when
// there is none), so a restarted manager or a reconcile never resets a
// running fleet; else the last decision in status; else minReplicas. The
// result is within ReplicaBounds.
func (wp *Waypoint) StartingReplicas(running *int32) int32 {
	h := wp.horizontal()
	switch {
	case running != nil:
		return h.ClampReplicas(*running)
	case wp.Status.DesiredReplicas > 0:
		return h.ClampReplicas(wp.Status.DesiredReplicas)
	}
	lo, _ := h.ReplicaBounds()
	return lo
}

// DeploymentReplicas is the replica count the Waypoint's Deployment must
// have: spec.replicas while horizontal autoscaling is off; otherwise the
// autoscaler's status.desiredReplicas within ReplicaBounds, or
// StartingReplicas until it has decided. running is the Deployment's current
// count, nil when it does not exist.
func (wp *Waypoint) DeploymentReplicas(running *int32) int32 {
	if !wp.HorizontalEnabled() {
		return wp.SpecReplicas()
	}
	if n := wp.Status.DesiredReplicas; n > 0 {
		return wp.horizontal().ClampReplicas(n)
	}
	return wp.StartingReplicas(running)
}

// AppliedRequests are the CPU and memory requests the vertical autoscaler
// last applied (status.recommendation.applied) when its mode applies
// recommendations (InPlace or Rolling); nil otherwise or before any.
func (wp *Waypoint) AppliedRequests() corev1.ResourceList {
	if m := wp.VerticalMode(); m != VerticalInPlace && m != VerticalRolling || wp.Status.Recommendation == nil {
		return nil
	}
	out := corev1.ResourceList{}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := wp.Status.Recommendation.Applied[name]; ok && q.Sign() > 0 {
			out[name] = q.DeepCopy()
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// TemplateResources are the resources of the proxy container in the
// Deployment's pod template. Rolling mode carries the applied requests (the
// template change is the rollout). InPlace mode keeps spec.resources: any
// template change would replace every pod and undo the in-place resize, so
// the autoscaler resizes new pods to the applied requests instead.
func (wp *Waypoint) TemplateResources() corev1.ResourceRequirements {
	if wp.VerticalMode() == VerticalRolling {
		return wp.ContainerResources(wp.AppliedRequests())
	}
	return wp.ContainerResources(nil)
}

// ContainerResources are the proxy container's resources for the given CPU
// and memory requests (nil: spec.resources as written). One rule serves both
// vertical modes, so a recommendation gives the same pod whether it is rolled
// out or resized in place:
//   - the base is spec.resources, or DefaultWaypointRequests when the spec
//     sets neither requests nor limits;
//   - each given request replaces the base's, other resources stay;
//   - a limit keeps its ratio to the request (the VPA's rule: headroom the
//     user chose scales with the request); a limit set without a request is
//     kept, but raised to the new request when it falls below it.
func (wp *Waypoint) ContainerResources(requests corev1.ResourceList) corev1.ResourceRequirements {
	out := corev1.ResourceRequirements{}
	if s := wp.Spec.Resources; s != nil {
		out = *s.DeepCopy()
	}
	if len(out.Requests) == 0 && len(out.Limits) == 0 {
		out.Requests = DefaultWaypointRequests()
	}
	for name, req := range requests {
		if req.Sign() <= 0 {
			continue
		}
		base, hadBase := out.Requests[name]
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[name] = req.DeepCopy()
		lim, ok := out.Limits[name]
		switch {
		case !ok:
		case hadBase && base.Sign() > 0:
			out.Limits[name] = scaled(name, req, lim, base)
		case lim.Cmp(req) < 0:
			out.Limits[name] = req.DeepCopy()
		}
	}
	return out
}

// scaled is req × lim/base, rounded up to what people write: whole
// millicores for CPU, whole MiB for memory (never below the exact value).
func scaled(name corev1.ResourceName, req, lim, base resource.Quantity) resource.Quantity {
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(ratio(req.MilliValue(), lim.MilliValue(), base.MilliValue()), resource.DecimalSI)
	}
	const mib = 1 << 20
	b := ratio(req.Value(), lim.Value(), base.Value())
	if b%mib != 0 && b < math.MaxInt64-mib {
		b += mib - b%mib
	}
	return *resource.NewQuantity(b, resource.BinarySI)
}

func ratio(v, num, den int64) int64 {
	f := math.Ceil(float64(v) * float64(num) / float64(den))
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}
