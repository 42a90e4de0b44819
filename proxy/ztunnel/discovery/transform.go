package discovery

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// The informers keep slim copies of API objects: a node proxy watches every
// pod and service of the cluster, and fields it never reads (most of the
// spec, the status, managed fields, annotations) would be most of its
// memory. Each transform keeps exactly what the to* conversions read.

func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
		ResourceVersion: m.ResourceVersion, Labels: m.Labels}
}

func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // tombstones pass through
	}
	return &corev1.Pod{
		ObjectMeta: slimMeta(p.ObjectMeta),
		Spec: corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName, NodeName: p.Spec.NodeName,
			HostNetwork: p.Spec.HostNetwork},
		Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}, nil
}

func slimService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	ports := make([]corev1.ServicePort, 0, len(s.Spec.Ports))
	for _, p := range s.Spec.Ports {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Port: p.Port, Protocol: p.Protocol})
	}
	return &corev1.Service{ObjectMeta: slimMeta(s.ObjectMeta),
		Spec: corev1.ServiceSpec{ClusterIPs: s.Spec.ClusterIPs, Ports: ports}}, nil
}

func slimSlice(obj any) (any, error) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{ObjectMeta: slimMeta(es.ObjectMeta), AddressType: es.AddressType, Ports: es.Ports}
	out.Endpoints = make([]discoveryv1.Endpoint, len(es.Endpoints))
	for i, ep := range es.Endpoints {
		out.Endpoints[i] = discoveryv1.Endpoint{Addresses: ep.Addresses, Conditions: ep.Conditions, TargetRef: ep.TargetRef}
	}
	return out, nil
}

func slimNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{ObjectMeta: slimMeta(ns.ObjectMeta)}, nil
}

func slimWaypoint(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	f, _, _ := unstructured.NestedString(u.Object, "spec", "for")
	out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind()}}
	out.SetName(u.GetName())
	out.SetNamespace(u.GetNamespace())
	out.SetUID(u.GetUID())
	out.SetResourceVersion(u.GetResourceVersion())
	if f != "" {
		_ = unstructured.SetNestedField(out.Object, f, "spec", "for")
	}
	return out, nil
}

func toWorkload(p *corev1.Pod) *Workload {
	w := &Workload{
		Namespace: p.Namespace, Name: p.Name, UID: p.UID,
		ServiceAccount: p.Spec.ServiceAccountName, Node: p.Spec.NodeName,
		Labels: p.Labels, HostNetwork: p.Spec.HostNetwork,
		Running: p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed,
	}
	if w.ServiceAccount == "" {
		w.ServiceAccount = "default"
	}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			w.IPs = append(w.IPs, a.Unmap())
		}
	}
	if len(w.IPs) == 0 && p.Status.PodIP != "" {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			w.IPs = append(w.IPs, a.Unmap())
		}
	}
	return w
}

func toService(s *corev1.Service) *Service {
	out := &Service{Namespace: s.Namespace, Name: s.Name, Labels: s.Labels}
	for _, ip := range s.Spec.ClusterIPs {
		if a, err := netip.ParseAddr(ip); err == nil {
			out.ClusterIPs = append(out.ClusterIPs, a.Unmap())
		}
	}
	for _, p := range s.Spec.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			out.Ports = append(out.Ports, ServicePort{Name: p.Name, Port: uint16(p.Port)})
		}
	}
	return out
}

// toEndpoints returns a slice's ready, non-terminating TCP endpoints.
func toEndpoints(es *discoveryv1.EndpointSlice) []Endpoint {
	if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
		return nil
	}
	ports := map[string]uint16{}
	for _, p := range es.Ports {
		if p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			ports[name] = uint16(*p.Port)
		}
	}
	var out []Endpoint
	for _, ep := range es.Endpoints {
		if (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) ||
			(ep.Conditions.Terminating != nil && *ep.Conditions.Terminating) {
			continue
		}
		var pod types.NamespacedName
		if r := ep.TargetRef; r != nil && r.Kind == "Pod" {
			pod = types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
			if pod.Namespace == "" {
				pod.Namespace = es.Namespace
			}
		}
		for _, a := range ep.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				out = append(out, Endpoint{Addr: ip.Unmap(), Pod: pod, Ports: ports})
			}
		}
	}
	return out
}

func toWaypoint(u *unstructured.Unstructured) *Waypoint {
	f, _, _ := unstructured.NestedString(u.Object, "spec", "for")
	return &Waypoint{Namespace: u.GetNamespace(), Name: u.GetName(), For: TrafficType(f)}
}
