package waypoint

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// BuildService gives ztunnels a stable address for the waypoint (HBONE) and
// Prometheus a scrape target (metrics). It has the Waypoint's name, as
// Istio's waypoint Service has the Gateway's.
func BuildService(wp *meshv1alpha1.Waypoint) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name: wp.Name, Namespace: wp.Namespace,
			Labels: objectLabels(wp), OwnerReferences: ownerRef(wp),
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(wp),
			Ports: []corev1.ServicePort{
				{Name: "hbone", Port: mesh.PortHBONE, TargetPort: intstr.FromString("hbone"), Protocol: corev1.ProtocolTCP},
				{Name: "http-metrics", Port: mesh.PortStats, TargetPort: intstr.FromString("http-metrics"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}
