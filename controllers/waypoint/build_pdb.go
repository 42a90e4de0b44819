package waypoint

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// BuildPodDisruptionBudget lets voluntary evictions (node drains) take one
// waypoint pod at a time. maxUnavailable rather than minAvailable, so a
// single-replica waypoint never blocks a drain forever; unhealthy pods may
// always be evicted so a crash-looping pod cannot block one either.
func BuildPodDisruptionBudget(wp *meshv1alpha1.Waypoint) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{
			Name: wp.Name, Namespace: wp.Namespace,
			Labels: objectLabels(wp), OwnerReferences: ownerRef(wp),
		},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             new(intstr.FromInt32(1)),
			Selector:                   &metav1.LabelSelector{MatchLabels: selectorLabels(wp)},
			UnhealthyPodEvictionPolicy: new(policyv1.AlwaysAllow),
		},
	}
}
