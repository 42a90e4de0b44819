package discovery

import (
	"net/netip"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

// WaypointPortName is the port of a waypoint's Service that serves HBONE.
const WaypointPortName = "hbone"

// Input is everything a Snapshot is built from. Nothing in it is mutated.
type Input struct {
	Workloads []*Workload
	Services  []*Service
	// Endpoints are the ready endpoints of each service, from its slices.
	Endpoints map[types.NamespacedName][]Endpoint
	// Namespaces maps a namespace to its labels.
	Namespaces map[string]map[string]string
	Waypoints  []*Waypoint
	// ExcludedNamespaces are never enrolled (ZtunnelConfig spec).
	ExcludedNamespaces []string
	// Policies are the cluster's AuthorizationPolicies; RootNamespace holds
	// the mesh-wide ones.
	Policies      []*meshv1alpha1.AuthorizationPolicy
	RootNamespace string
}

// Snapshot is an immutable index of Input.
type Snapshot struct {
	byIP      map[netip.Addr]*Workload
	byUID     map[types.UID]*Workload
	byKey     map[types.NamespacedName]*Workload
	svcByIP   map[netip.Addr]*Service
	endpoints map[types.NamespacedName][]Endpoint
	nsLabels  map[string]map[string]string
	waypoints map[types.NamespacedName]*Waypoint
	// behind lists, per pod, the waypoints of the Services it backs that
	// handle service traffic.
	behind   map[types.NamespacedName][]types.NamespacedName
	excluded map[string]bool
	// backs lists, per pod, the names of the Services (in its namespace)
	// it backs that use no waypoint: their policies are the ztunnel's.
	backs    map[types.NamespacedName][]string
	policies *authz.Set
	// evaluators caches each pod's compiled policies for this snapshot.
	evaluators sync.Map // types.UID -> *authz.Evaluator
}

// Build indexes in. Later duplicates of an IP lose to earlier running pods:
// a finished pod's address may already belong to a new one.
func Build(in Input) *Snapshot {
	s := &Snapshot{
		byIP:      make(map[netip.Addr]*Workload, len(in.Workloads)),
		byUID:     make(map[types.UID]*Workload, len(in.Workloads)),
		byKey:     make(map[types.NamespacedName]*Workload, len(in.Workloads)),
		svcByIP:   make(map[netip.Addr]*Service, len(in.Services)),
		endpoints: in.Endpoints,
		nsLabels:  in.Namespaces,
		waypoints: make(map[types.NamespacedName]*Waypoint, len(in.Waypoints)),
		behind:    map[types.NamespacedName][]types.NamespacedName{},
		excluded:  make(map[string]bool, len(in.ExcludedNamespaces)),
		backs:     map[types.NamespacedName][]string{},
		policies:  authz.Compile(in.Policies, authz.Options{RootNamespace: in.RootNamespace}),
	}
	if s.endpoints == nil {
		s.endpoints = map[types.NamespacedName][]Endpoint{}
	}
	if s.nsLabels == nil {
		s.nsLabels = map[string]map[string]string{}
	}
	for _, ns := range in.ExcludedNamespaces {
		s.excluded[ns] = true
	}
	for _, w := range in.Workloads {
		s.byUID[w.UID] = w
		s.byKey[w.Key()] = w
		if w.HostNetwork || !w.Running {
			continue
		}
		for _, ip := range w.IPs {
			s.byIP[ip] = w
		}
	}
	for _, svc := range in.Services {
		for _, ip := range svc.ClusterIPs {
			s.svcByIP[ip] = svc
		}
	}
	for _, wp := range in.Waypoints {
		s.waypoints[wp.Key()] = wp
	}
	for _, svc := range in.Services {
		wp := s.serviceWaypoint(svc)
		if wp == nil {
			for _, ep := range s.endpoints[svc.Key()] {
				if ep.Pod.Name != "" && !slices.Contains(s.backs[ep.Pod], svc.Name) {
					s.backs[ep.Pod] = append(s.backs[ep.Pod], svc.Name)
				}
			}
			continue
		}
		for _, ep := range s.endpoints[svc.Key()] {
			if ep.Pod.Name != "" && !slices.Contains(s.behind[ep.Pod], wp.Key()) {
				s.behind[ep.Pod] = append(s.behind[ep.Pod], wp.Key())
			}
		}
	}
	return s
}

// WorkloadByUID returns the pod with that UID.
func (s *Snapshot) WorkloadByUID(uid types.UID) *Workload { return s.byUID[uid] }

// WorkloadByIP returns the running, pod-network pod holding ip.
func (s *Snapshot) WorkloadByIP(ip netip.Addr) *Workload { return s.byIP[ip.Unmap()] }

// Workload returns a pod by name.
func (s *Snapshot) Workload(key types.NamespacedName) *Workload { return s.byKey[key] }

// Workloads calls fn for every pod scheduled to node.
func (s *Snapshot) WorkloadsOn(node string, fn func(*Workload)) {
	for _, w := range s.byUID {
		if w.Node == node {
			fn(w)
		}
	}
}

// Enrolled says whether a ztunnel captures w: its labels (or its
// namespace's) enroll it, it runs on the pod network, and its namespace is
// not excluded.
func (s *Snapshot) Enrolled(w *Workload) bool {
	return w != nil && !w.HostNetwork && w.Running && !s.excluded[w.Namespace] &&
		mesh.Enrolled(w.Labels, s.nsLabels[w.Namespace])
}

// serviceWaypoint is the waypoint that handles traffic to svc, if any.
func (s *Snapshot) serviceWaypoint(svc *Service) *Waypoint {
	name := waypointOf(svc.Labels, s.nsLabels[svc.Namespace])
	if name == "" {
		return nil
	}
	wp := s.waypoints[types.NamespacedName{Namespace: svc.Namespace, Name: name}]
	if wp == nil || !wp.HandlesServices() {
		return nil
	}
	return wp
}

// workloadWaypoint is the waypoint that handles traffic addressed to w, if any.
func (s *Snapshot) workloadWaypoint(w *Workload) *Waypoint {
	name := waypointOf(w.Labels, s.nsLabels[w.Namespace])
	if name == "" {
		return nil
	}
	wp := s.waypoints[types.NamespacedName{Namespace: w.Namespace, Name: name}]
	if wp == nil || !wp.HandlesWorkloads() {
		return nil
	}
	return wp
}

// waypointNamed reports a use-waypoint label naming a waypoint that does
// not exist: traffic must not silently skip the policy it was meant to get.
func (s *Snapshot) waypointNamed(own map[string]string, ns string) (string, bool) {
	name := waypointOf(own, s.nsLabels[ns])
	if name == "" {
		return "", false
	}
	_, ok := s.waypoints[types.NamespacedName{Namespace: ns, Name: name}]
	return name, !ok
}

// WaypointsFor lists the waypoints whose identities alone may send mesh
// traffic to w: its own (for workload traffic) and those of the Services
// it backs. Empty: any mesh identity may.
func (s *Snapshot) WaypointsFor(w *Workload) []types.NamespacedName {
	out := slices.Clone(s.behind[w.Key()])
	if name := waypointOf(w.Labels, s.nsLabels[w.Namespace]); name != "" {
		k := types.NamespacedName{Namespace: w.Namespace, Name: name}
		if wp := s.waypoints[k]; wp != nil && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// WaypointReplicas returns the HBONE addresses of a waypoint's ready pods.
func (s *Snapshot) WaypointReplicas(wp types.NamespacedName) []netip.AddrPort {
	var out []netip.AddrPort
	for _, ep := range s.endpoints[wp] {
		if p, ok := ep.Ports[WaypointPortName]; ok {
			out = append(out, netip.AddrPortFrom(ep.Addr, p))
		}
	}
	return out
}

// IsWaypointPod says whether w is a replica of a Waypoint (its identity is
// the waypoint's).
func (s *Snapshot) IsWaypointIdentity(ns, serviceAccount string) bool {
	_, ok := s.waypoints[types.NamespacedName{Namespace: ns, Name: serviceAccount}]
	return ok
}

// Authorization returns the compiled AuthorizationPolicies a pod's ztunnel
// enforces for it (nil: none select it, everything is allowed).
func (s *Snapshot) Authorization(w *Workload) *authz.Evaluator {
	if v, ok := s.evaluators.Load(w.UID); ok {
		return v.(*authz.Evaluator)
	}
	ev := s.policies.ForWorkload(authz.Workload{Namespace: w.Namespace, Labels: w.Labels,
		ServicesWithoutWaypoint: s.backs[w.Key()]})
	s.evaluators.Store(w.UID, ev)
	return ev
}

// Policies lists the compiled policies (for logs of compile errors).
func (s *Snapshot) Policies() *authz.Set { return s.policies }

// waypointOf is the waypoint named by an object's own labels, else by its
// namespace's ("none" on the object opts out of the namespace's).
func waypointOf(own, namespace map[string]string) string {
	name, _ := mesh.UseWaypoint(own, nil, namespace)
	return name
}
