package collector

import (
	corev1 "k8s.io/api/core/v1"
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
