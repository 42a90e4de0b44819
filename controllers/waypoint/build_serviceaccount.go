package waypoint

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// BuildServiceAccount is the waypoint's identity: the CA issues
// spiffe://<td>/ns/<ns>/sa/<name> to its pods, and the shared reader
// binding lets it read its configuration. Tokens are not mounted unless a
// pod asks; the waypoint's pod template does.
func BuildServiceAccount(wp *meshv1alpha1.Waypoint) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{
			Name: wp.Name, Namespace: wp.Namespace,
			Labels: objectLabels(wp), OwnerReferences: ownerRef(wp),
		},
		AutomountServiceAccountToken: new(false),
	}
}
