// Package discovery is what a ztunnel knows about the cluster: workloads,
// services, their endpoints and waypoints, kept from informers whose
// transforms drop every field the node proxy does not use. Snapshot is an
// immutable index, rebuilt after each burst of changes and read without
// locks on every connection.
package discovery

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
)

// Workload is a pod as the node proxy sees it.
type Workload struct {
	Namespace, Name string
	UID             types.UID
	ServiceAccount  string
	Node            string
	IPs             []netip.Addr
	Labels          map[string]string
	HostNetwork     bool
	// Running: scheduled, not finished. Terminating pods stay Running until
	// they are gone, so their open connections keep their identity.
	Running bool
}

// Key names a workload.
func (w *Workload) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: w.Namespace, Name: w.Name}
}

// ServicePort is one TCP port of a Service.
type ServicePort struct {
	Name string
	Port uint16
}

// Service is a Kubernetes Service with a cluster IP.
type Service struct {
	Namespace, Name string
	Labels          map[string]string
	ClusterIPs      []netip.Addr
	Ports           []ServicePort
}

// Key names a service.
func (s *Service) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
}

// Endpoint is one ready address of a service, with the port numbers its
// slice publishes by port name.
type Endpoint struct {
	Addr netip.Addr
	// Pod is the backing pod (TargetRef), if any.
	Pod types.NamespacedName
	// Ports maps a service port name to the endpoint's port number.
	Ports map[string]uint16
}

// TrafficType is a Waypoint's spec.for.
type TrafficType string

// Waypoint spec.for values.
const (
	ForService  TrafficType = "service"
	ForWorkload TrafficType = "workload"
	ForAll      TrafficType = "all"
)

// Waypoint is a Waypoint object: its name is also its Service's and its
// service account's.
type Waypoint struct {
	Namespace, Name string
	For             TrafficType
}

// HandlesServices says whether traffic addressed to Services goes through it.
func (w *Waypoint) HandlesServices() bool {
	return w.For == "" || w.For == ForService || w.For == ForAll
}

// HandlesWorkloads says whether traffic addressed to pods goes through it.
func (w *Waypoint) HandlesWorkloads() bool { return w.For == ForWorkload || w.For == ForAll }

// Key names a waypoint.
func (w *Waypoint) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: w.Namespace, Name: w.Name}
}
