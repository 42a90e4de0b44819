// Package routing compiles Gateway API HTTPRoutes, Services and EndpointSlices
// into an immutable routing table for one waypoint. It is pure: no I/O, no
// goroutines, no clocks. A table is built once per configuration change and
// then read concurrently without locks.
package routing

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// The mesh labels, kept under their old names for callers of this package;
// package api/mesh defines them and how they resolve.
//
// Deprecated: use the constants of package api/mesh.
const (
	LabelUseWaypoint = mesh.LabelUseWaypoint
	LabelDataplane   = mesh.LabelDataplaneMode
	DataplaneAmbient = mesh.DataplaneModeAmbient
	UseWaypointNone  = mesh.UseWaypointNone
)

const (
	waypointAPIGroup  = "mesh.wayfabric.io"
	gatewayAPIGroup   = gwv1.GroupName
	labelServiceName  = discoveryv1.LabelServiceName
	defaultRouteLabel = "default"
)

// Waypoint names the waypoint a table is compiled for.
type Waypoint struct {
	Namespace string
	Name      string
	// For is the Waypoint's spec.for: "service" (also when empty), "workload"
	// or "all". Workload traffic (to pod IPs) is served for workload and all.
	For string
}

// Values of Waypoint.For.
const (
	ForService  = "service"
	ForWorkload = "workload"
	ForAll      = "all"
)

// servesWorkloads reports whether traffic addressed to pod IPs is served.
func (w Waypoint) servesWorkloads() bool { return w.For == ForWorkload || w.For == ForAll }

// servesServices reports whether traffic addressed to Service VIPs is served.
func (w Waypoint) servesServices() bool { return w.For != ForWorkload }

// Input is everything the compiler reads. Slices may be in any order; the
// compiler never mutates them.
type Input struct {
	Waypoint        Waypoint
	HTTPRoutes      []*gwv1.HTTPRoute
	GRPCRoutes      []*gwv1.GRPCRoute
	Services        []*corev1.Service
	EndpointSlices  []*discoveryv1.EndpointSlice
	ReferenceGrants []*gwv1.ReferenceGrant
	// Namespaces supplies namespace labels (use-waypoint and dataplane-mode).
	// A namespace absent from the list has no labels.
	Namespaces []*corev1.Namespace
	// PodServiceAccounts maps a Pod to its service account, for the identity
	// of in-mesh endpoints. Pods missing here are assumed to use "default"
	// (HBONE still verifies the peer, so a wrong guess fails closed).
	PodServiceAccounts map[types.NamespacedName]string
	// AuthorizationPolicies are compiled into each destination's Authz:
	// those attached to this waypoint and to the destination's Service (a
	// pod addressed by IP gets the waypoint's only).
	AuthorizationPolicies []*meshv1alpha1.AuthorizationPolicy
	// Workloads are the pods that may be addressed by IP: those of the
	// waypoint's namespace that use it are its workload destinations when it
	// serves workloads (Waypoint.For). Their labels also decide whether a pod
	// is in the mesh (the pod label wins over its namespace's).
	Workloads []Workload
}

// Workload is what the compiler needs of a Pod.
type Workload struct {
	Namespace, Name, ServiceAccount string
	// IPs are the pod's addresses (status.podIPs).
	IPs []netip.Addr
	// Labels holds at least mesh.LabelUseWaypoint and mesh.LabelDataplaneMode when the pod has them.
	Labels map[string]string
}
