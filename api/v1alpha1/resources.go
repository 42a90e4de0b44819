package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ResourceList returns the bounds as a ResourceList, leaving out unset or
// unparsable entries (the API server already rejects unparsable ones).
func (b *ResourceBounds) ResourceList() corev1.ResourceList {
	if b == nil {
		return nil
	}
	list := corev1.ResourceList{}
	for name, s := range map[corev1.ResourceName]string{corev1.ResourceCPU: b.CPU, corev1.ResourceMemory: b.Memory} {
		if q, err := resource.ParseQuantity(s); s != "" && err == nil {
			list[name] = q
		}
	}
	return list
}
