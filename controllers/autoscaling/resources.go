package autoscaling

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
)

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

// quantity renders CPU in millicores and memory in binary units, the way
// people write them (250m, 512Mi).
func quantity(name corev1.ResourceName, v int64) resource.Quantity {
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	return *resource.NewQuantity(v, resource.BinarySI)
}
