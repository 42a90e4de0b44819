package collector

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// PodReady reports whether a pod serves traffic and can be scraped: running,
// not being deleted, with an IP and the Ready condition. Only ready replicas
// carry load, so only they are asked (the HPA counts the same set).
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodCacheSelector selects waypoint pods. Give it to the manager's cache
// (cache.Options.ByObject for *corev1.Pod) so the manager watches only
// waypoint pods, not every pod of the cluster.
func PodCacheSelector() labels.Selector {
	req, err := labels.NewRequirement(meshv1alpha1.LabelWaypoint, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant, valid key
	}
	return labels.NewSelector().Add(*req)
}
