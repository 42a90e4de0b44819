package routing

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/proxy/authz"
)

// routeAttachment is where a route applies.
type routeAttachment struct {
	services map[types.NamespacedName][]int32 // port 0 = every port
	waypoint bool
}

// Compile builds a Table. It never panics on bad input: a route or rule it
// cannot honour is left out and listed in Table.Skipped.
func Compile(in Input) *Table {
	ix := newIndex(&in)
	t := &Table{destinations: map[netip.AddrPort]*Destination{}}
	t.Policies = authz.Compile(in.AuthorizationPolicies, authz.Options{})
	wp := types.NamespacedName{Namespace: in.Waypoint.Namespace, Name: in.Waypoint.Name}

	routes := make([]*gwv1.HTTPRoute, 0, len(in.HTTPRoutes))
	for _, r := range in.HTTPRoutes {
		if r != nil {
			routes = append(routes, r)
		}
	}
	// Spec tie-breakers across routes: oldest first, then "{namespace}/{name}".
	slices.SortStableFunc(routes, func(a, b *gwv1.HTTPRoute) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})

	svcMatchers := map[types.NamespacedName][]*matcher{}
	svcMatcherPorts := map[*matcher][]int32{}
	var waypointMatchers []*matcher

	for _, r := range routes {
		key := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
		att, reason := attachments(&in, r)
		if reason != "" {
			t.Skipped = append(t.Skipped, Skipped{Route: key, Rule: -1, Reason: reason})
			continue
		}
		ms, skipped := compileRoute(ix, r)
		t.Skipped = append(t.Skipped, skipped...)
		if len(ms) == 0 {
			if len(skipped) > 0 {
				t.Skipped = append(t.Skipped, Skipped{Route: key, Rule: -1, Reason: "no valid rules"})
			}
			continue
		}
		if att.waypoint {
			waypointMatchers = append(waypointMatchers, ms...)
		}
		for svc, ports := range att.services {
			for _, m := range ms {
				svcMatchers[svc] = append(svcMatchers[svc], m)
				svcMatcherPorts[m] = append(svcMatcherPorts[m], ports...)
			}
		}
	}

	for _, s := range in.Services {
		if s == nil || !ix.usesWaypoint(s) {
			continue
		}
		name := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		for i := range s.Spec.Ports {
			sp := &s.Spec.Ports[i]
			if !protocolTCP(sp.Protocol) {
				continue
			}
			d := &Destination{Service: name, ServiceLabel: name.String(), Port: sp.Port, Protocol: portProtocol(sp),
				Authz: t.Policies.ForWaypoint(wp, name)}
			d.Self = ix.resolve(name.Namespace, gwv1.BackendObjectReference{Name: gwv1.ObjectName(name.Name), Port: &d.Port})
			for _, m := range svcMatchers[name] {
				if portSelected(svcMatcherPorts[m], sp.Port) {
					d.matchers = append(d.matchers, m)
				}
			}
			if len(d.matchers) == 0 {
				// Service routes win; Waypoint-parented routes apply otherwise.
				d.matchers = append(d.matchers, waypointMatchers...)
			}
			if len(d.matchers) == 0 {
				d.matchers = []*matcher{defaultMatcher(ix, name, sp.Port)}
			}
			sortMatchers(d.matchers)
			for _, ip := range clusterIPs(s) {
				t.destinations[netip.AddrPortFrom(ip, uint16(sp.Port))] = d
			}
		}
	}
	return t
}

func portSelected(ports []int32, p int32) bool {
	for _, x := range ports {
		if x == 0 || x == p {
			return true
		}
	}
	return false
}

func clusterIPs(s *corev1.Service) []netip.Addr {
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, v := range ips {
		if ip, err := netip.ParseAddr(v); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// defaultMatcher forwards everything to the destination Service itself, like
// a waypoint with no routes.
func defaultMatcher(ix *index, svc types.NamespacedName, port int32) *matcher {
	b := ix.resolve(svc.Namespace, gwv1.BackendObjectReference{Name: gwv1.ObjectName(svc.Name), Port: &port})
	rule := &Rule{RouteLabel: defaultRouteLabel, Backends: []WeightedBackend{{Backend: b, Weight: 1}}, totalWeight: 1}
	return &matcher{kind: pathPrefix, path: "/", rule: rule}
}

// attachments reads parentRefs: GAMMA (a Service) or this Waypoint (kind
// Waypoint, or a Gateway of the same name).
func attachments(in *Input, r *gwv1.HTTPRoute) (routeAttachment, string) {
	att := routeAttachment{services: map[types.NamespacedName][]int32{}}
	for _, p := range r.Spec.ParentRefs {
		group, kind := gatewayAPIGroup, "Gateway"
		if p.Group != nil {
			group = string(*p.Group)
		}
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		ns := r.Namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		switch {
		case (group == "" || group == "core") && kind == "Service":
			if ns != r.Namespace {
				// Consumer routes would need the caller's namespace; not supported yet.
				continue
			}
			port := int32(0)
			if p.Port != nil {
				port = *p.Port
			}
			k := types.NamespacedName{Namespace: ns, Name: string(p.Name)}
			att.services[k] = append(att.services[k], port)
		case ns == in.Waypoint.Namespace && string(p.Name) == in.Waypoint.Name &&
			((group == gatewayAPIGroup && kind == "Gateway") || (group == waypointAPIGroup && kind == "Waypoint")):
			att.waypoint = true
		}
	}
	if !att.waypoint && len(att.services) == 0 {
		return att, "no parentRef to this waypoint or a Service in the route's namespace"
	}
	return att, ""
}

// compileRoute compiles every rule; invalid rules are reported and skipped.
func compileRoute(ix *index, r *gwv1.HTTPRoute) ([]*matcher, []Skipped) {
	key := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
	var hostnames []string
	for _, h := range r.Spec.Hostnames {
		hostnames = append(hostnames, strings.ToLower(string(h)))
	}
	var out []*matcher
	var skipped []Skipped
	for i := range r.Spec.Rules {
		rule, ms, err := compileRule(ix, r, i)
		if err != nil {
			skipped = append(skipped, Skipped{Route: key, Rule: i, Reason: err.Error()})
			continue
		}
		for _, m := range ms {
			m.rule = rule
			m.created = r.CreationTimestamp.Time
			m.routeKey = key.String()
			m.ruleIdx = i
			if len(hostnames) == 0 {
				out = append(out, m)
				continue
			}
			// One matcher per hostname, so each ranks by the hostname it matches.
			for _, h := range hostnames {
				hm := *m
				hm.hostnames = []string{h}
				hm.hostRank = len(h)
				if !strings.HasPrefix(h, "*.") {
					hm.hostRank += 1 << 16
				}
				out = append(out, &hm)
			}
		}
	}
	return out, skipped
}

func compileRule(ix *index, r *gwv1.HTTPRoute, i int) (*Rule, []*matcher, error) {
	src := &r.Spec.Rules[i]
	rule := &Rule{
		Route:      types.NamespacedName{Namespace: r.Namespace, Name: r.Name},
		Index:      i,
		RouteLabel: r.Namespace + "/" + r.Name,
	}
	if src.Name != nil {
		rule.Name = string(*src.Name)
	}
	ms, err := compileMatches(src.Matches)
	if err != nil {
		return nil, nil, err
	}
	if err := compileFilters(ix, r.Namespace, src.Filters, rule, ms); err != nil {
		return nil, nil, err
	}
	for j := range src.BackendRefs {
		br := &src.BackendRefs[j]
		w := int32(1)
		if br.Weight != nil {
			w = *br.Weight
		}
		if w < 0 {
			return nil, nil, fmt.Errorf("backendRefs[%d]: negative weight", j)
		}
		wb := WeightedBackend{Backend: ix.resolve(r.Namespace, br.BackendObjectReference), Weight: w}
		if err := backendFilters(br.Filters, &wb); err != nil {
			return nil, nil, fmt.Errorf("backendRefs[%d]: %w", j, err)
		}
		rule.Backends = append(rule.Backends, wb)
		rule.totalWeight += int64(w)
	}
	if err := compileTimeouts(src.Timeouts, rule); err != nil {
		return nil, nil, err
	}
	if err := compileRetry(src.Retry, rule); err != nil {
		return nil, nil, err
	}
	if src.SessionPersistence != nil {
		return nil, nil, fmt.Errorf("sessionPersistence is not supported")
	}
	return rule, ms, nil
}

func sortMatchers(ms []*matcher) {
	slices.SortStableFunc(ms, func(a, b *matcher) int {
		// Spec (HTTPRouteSpec.Hostnames): the most specific matching hostname
		// wins before any match precedence.
		if c := cmp.Compare(b.hostRank, a.hostRank); c != 0 {
			return c
		}
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
			return c
		}
		if c := cmp.Compare(boolInt(b.method != ""), boolInt(a.method != "")); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b.headers), len(a.headers)); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b.query), len(a.query)); c != 0 {
			return c
		}
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		if c := strings.Compare(a.routeKey, b.routeKey); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ruleIdx, b.ruleIdx); c != 0 {
			return c
		}
		return cmp.Compare(a.matchIdx, b.matchIdx)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
