package authz

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Set is every compiled policy, indexed by what it attaches to. Immutable.
type Set struct {
	opts     Options
	policies []*Policy // sorted by Key
	byTarget map[targetKey][]*Policy
	workload []*Policy // policies without targetRefs (selector or namespace-wide)
}

type targetKey struct{ namespace, group, kind, name string }

// Group names of targetRefs kinds.
const (
	groupWaypoint = "mesh.wayfabric.io"
	groupGateway  = "gateway.networking.k8s.io"
)

// Policies returns every policy, sorted by namespace/name.
func (s *Set) Policies() []*Policy {
	if s == nil {
		return nil
	}
	return s.policies
}

// Lookup returns the compiled policy namespace/name, or nil.
func (s *Set) Lookup(namespace, name string) *Policy {
	for _, p := range s.Policies() {
		if p.Namespace == namespace && p.Name == name {
			return p
		}
	}
	return nil
}

// ForWaypoint returns what the waypoint enforces on traffic to service:
// policies whose targetRefs name the waypoint (kind Waypoint, or the
// Gateway of the same name) and policies whose targetRefs name the Service.
// Nil when there are none.
func (s *Set) ForWaypoint(waypoint, service types.NamespacedName) *Evaluator {
	if s == nil {
		return nil
	}
	var ps []*Policy
	ps = appendNew(ps, s.byTarget[targetKey{waypoint.Namespace, groupWaypoint, "Waypoint", waypoint.Name}])
	ps = appendNew(ps, s.byTarget[targetKey{waypoint.Namespace, groupGateway, "Gateway", waypoint.Name}])
	ps = appendNew(ps, s.byTarget[targetKey{service.Namespace, "", "Service", service.Name}])
	return newEvaluator(ps)
}

// Workload describes a pod for ForWorkload.
type Workload struct {
	Namespace string
	Labels    map[string]string
	// ServicesWithoutWaypoint are the names of the Services (in Namespace)
	// the pod backs that use no waypoint: policies attached to them with
	// targetRefs are enforced by the pod's ztunnel, at L4.
	ServicesWithoutWaypoint []string
}

// ForWorkload returns what a destination ztunnel enforces on connections to
// a pod: mesh-wide policies (root namespace, no targetRefs) and policies of
// the pod's namespace without targetRefs whose selector matches (or which
// have none), plus policies attached to ServicesWithoutWaypoint. Nil when
// there are none. Call it when the pod or the policies change, not per
// connection.
func (s *Set) ForWorkload(w Workload) *Evaluator {
	if s == nil {
		return nil
	}
	var ps []*Policy
	set := labels.Set(w.Labels)
	for _, p := range s.workload {
		if p.Namespace != w.Namespace && p.Namespace != s.opts.RootNamespace {
			continue
		}
		if p.selector == nil || p.selector.Matches(set) {
			ps = append(ps, p)
		}
	}
	for _, svc := range w.ServicesWithoutWaypoint {
		ps = appendNew(ps, s.byTarget[targetKey{w.Namespace, "", "Service", svc}])
	}
	return newEvaluator(ps)
}

func appendNew(ps, more []*Policy) []*Policy {
next:
	for _, p := range more {
		for _, q := range ps {
			if p == q {
				continue next
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// SelectsWorkloads reports whether the policy is enforced by ztunnels for
// pods it selects (no targetRefs).
func (p *Policy) SelectsWorkloads() bool { return len(p.Targets) == 0 }
