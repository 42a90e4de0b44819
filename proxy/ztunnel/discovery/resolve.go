package discovery

import (
	"math/rand/v2"
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
)

// RouteKind says how an outbound connection travels.
type RouteKind int

const (
	// Passthrough: plain TCP to the original destination (not in the mesh,
	// or not known to the cluster).
	Passthrough RouteKind = iota
	// Direct: HBONE to the destination pod's own ztunnel (its :15008).
	Direct
	// ViaWaypoint: HBONE to a ready replica of the destination's waypoint.
	ViaWaypoint
	// Refuse: the destination is in the mesh but cannot be reached safely
	// (no ready endpoint, its waypoint is missing or has no ready replica).
	Refuse
)

func (k RouteKind) String() string {
	return [...]string{"passthrough", "direct", "waypoint", "refuse"}[k]
}

// Route is the decision for one outbound connection.
type Route struct {
	Kind RouteKind
	// Target is the :authority of the CONNECT (Direct, ViaWaypoint) or the
	// address to dial (Passthrough).
	Target netip.AddrPort
	// Proxy is the HBONE endpoint (Direct, ViaWaypoint).
	Proxy netip.AddrPort
	// PeerNamespace and PeerServiceAccount name the identity Proxy must prove.
	PeerNamespace, PeerServiceAccount string
	// Service is set when the destination was a Service address.
	Service *Service
	// Workload is the destination pod, when known.
	Workload *Workload
	// Waypoint is set for ViaWaypoint.
	Waypoint *Waypoint
	// Reason explains Refuse and Passthrough decisions (for logs and metrics).
	Reason string
}

// Reasons of Refuse and Passthrough routes (metric label values).
const (
	ReasonNotInCluster       = "not_in_cluster"
	ReasonNotEnrolled        = "destination_not_enrolled"
	ReasonNoEndpoint         = "no_ready_endpoint"
	ReasonNoPort             = "service_port_unknown"
	ReasonWaypointMissing    = "waypoint_missing"
	ReasonWaypointNotReady   = "waypoint_no_ready_replica"
	ReasonServiceNoWaypoint  = "service"
	ReasonWorkloadNoWaypoint = "workload"
)

// hbonePort is where a destination pod's ztunnel serves HBONE.
const hbonePort = 15008

// Resolve decides how a connection to dst travels. A Service address goes
// to the Service's waypoint, else to one of its ready endpoints (chosen
// here, as kube-proxy would); a pod address goes to the pod's waypoint,
// else to the pod. Enrolled destinations are reached over HBONE, others in
// plain TCP.
func (s *Snapshot) Resolve(dst netip.AddrPort) Route {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if svc := s.svcByIP[dst.Addr()]; svc != nil {
		return s.resolveService(svc, dst)
	}
	if w := s.byIP[dst.Addr()]; w != nil {
		return s.resolveWorkload(w, dst)
	}
	return Route{Kind: Passthrough, Target: dst, Reason: ReasonNotInCluster}
}

func (s *Snapshot) resolveService(svc *Service, dst netip.AddrPort) Route {
	if name, missing := s.waypointNamed(svc.Labels, svc.Namespace); missing {
		return Route{Kind: Refuse, Target: dst, Service: svc, Reason: ReasonWaypointMissing + ":" + name}
	}
	if wp := s.serviceWaypoint(svc); wp != nil {
		return s.viaWaypoint(wp, dst, Route{Service: svc})
	}
	var portName string
	found := false
	for _, p := range svc.Ports {
		if p.Port == dst.Port() {
			portName, found = p.Name, true
			break
		}
	}
	if !found {
		return Route{Kind: Refuse, Target: dst, Service: svc, Reason: ReasonNoPort}
	}
	eps := s.endpoints[svc.Key()]
	var ready []*Endpoint
	for i := range eps {
		if _, ok := eps[i].Ports[portName]; ok {
			ready = append(ready, &eps[i])
		}
	}
	if len(ready) == 0 {
		return Route{Kind: Refuse, Target: dst, Service: svc, Reason: ReasonNoEndpoint}
	}
	ep := ready[rand.IntN(len(ready))]
	target := netip.AddrPortFrom(ep.Addr, ep.Ports[portName])
	w := s.byKey[ep.Pod]
	if w == nil {
		w = s.byIP[ep.Addr]
	}
	if !s.Enrolled(w) {
		return Route{Kind: Passthrough, Target: target, Service: svc, Workload: w, Reason: ReasonNotEnrolled}
	}
	return s.direct(w, target, Route{Service: svc})
}

func (s *Snapshot) resolveWorkload(w *Workload, dst netip.AddrPort) Route {
	if name, missing := s.waypointNamed(w.Labels, w.Namespace); missing && s.Enrolled(w) {
		return Route{Kind: Refuse, Target: dst, Workload: w, Reason: ReasonWaypointMissing + ":" + name}
	}
	if wp := s.workloadWaypoint(w); wp != nil && s.Enrolled(w) {
		return s.viaWaypoint(wp, dst, Route{Workload: w})
	}
	if !s.Enrolled(w) {
		return Route{Kind: Passthrough, Target: dst, Workload: w, Reason: ReasonNotEnrolled}
	}
	return s.direct(w, dst, Route{})
}

func (s *Snapshot) direct(w *Workload, target netip.AddrPort, r Route) Route {
	r.Kind, r.Target, r.Workload = Direct, target, w
	r.Proxy = netip.AddrPortFrom(target.Addr(), hbonePort)
	r.PeerNamespace, r.PeerServiceAccount = w.Namespace, w.ServiceAccount
	return r
}

func (s *Snapshot) viaWaypoint(wp *Waypoint, dst netip.AddrPort, r Route) Route {
	r.Target, r.Waypoint = dst, wp
	replicas := s.WaypointReplicas(types.NamespacedName{Namespace: wp.Namespace, Name: wp.Name})
	if len(replicas) == 0 {
		r.Kind, r.Reason = Refuse, ReasonWaypointNotReady+":"+wp.Name
		return r
	}
	r.Kind = ViaWaypoint
	r.Proxy = replicas[rand.IntN(len(replicas))]
	// A waypoint's service account is its name (controllers/waypoint).
	r.PeerNamespace, r.PeerServiceAccount = wp.Namespace, wp.Name
	return r
}
