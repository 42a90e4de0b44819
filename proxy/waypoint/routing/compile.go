package routing

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/proxy/authz"
)

// Route kinds, in GEP-1294's order of specificity: when routes of both kinds
// bind the same Service port, only the GRPCRoutes apply.
const (
	kindGRPCRoute = "GRPCRoute"
	kindHTTPRoute = "HTTPRoute"
)

// routeAttachment is where a route applies.
type routeAttachment struct {
	services map[types.NamespacedName][]int32 // port 0 = every port
	waypoint bool
	// consumerOnly: every parent is a Service in another namespace, so the
	// route changes only its own namespace's traffic (GEP-1294) and its
	// backendRefs need no ReferenceGrant.
	consumerOnly bool
}

// routeMeta is what the compiler needs of any route kind before its rules.
type routeMeta struct {
	key     types.NamespacedName
	kind    string
	created time.Time
	parents []gwv1.ParentReference
	compile func(*index, referrer) ([]*matcher, []Skipped)
}

// bound is one route's matchers attached to a group of a Service, with the
// ports its parentRefs select.
type bound struct {
	route types.NamespacedName
	kind  string
	ms    []*matcher
	ports []int32
}

// groupKey is a Service and the client namespace of its consumer routes
// ("" for the producer's routes).
type groupKey struct {
	svc      types.NamespacedName
	consumer string
}

// Compile builds a Table. It never panics on bad input: a route or rule it
// cannot honour is left out and listed in Table.Skipped.
func Compile(in Input) *Table {
	ix := newIndex(&in)
	t := &Table{destinations: map[netip.AddrPort]*Destination{}}
	t.Policies = authz.Compile(in.AuthorizationPolicies, authz.Options{})
	wp := types.NamespacedName{Namespace: in.Waypoint.Namespace, Name: in.Waypoint.Name}

	routes := collectRoutes(&in)
	groups := map[groupKey][]bound{}
	consumers := map[types.NamespacedName][]string{} // Service -> client namespaces with routes
	var waypointRoutes []bound

	for _, r := range routes {
		att, reason := attachments(&in, r.key.Namespace, r.parents)
		if reason != "" {
			t.Skipped = append(t.Skipped, Skipped{Route: r.key, Rule: -1, Reason: reason})
			continue
		}
		ms, skipped := r.compile(ix, referrer{namespace: r.key.Namespace, kind: r.kind, noGrant: att.consumerOnly})
		t.Skipped = append(t.Skipped, skipped...)
		if len(ms) == 0 {
			if len(skipped) > 0 {
				t.Skipped = append(t.Skipped, Skipped{Route: r.key, Rule: -1, Reason: "no valid rules"})
			}
			continue
		}
		if att.waypoint {
			waypointRoutes = append(waypointRoutes, bound{route: r.key, kind: r.kind, ms: ms, ports: []int32{0}})
		}
		for svc, ports := range att.services {
			g := groupKey{svc: svc}
			if svc.Namespace != r.key.Namespace {
				g.consumer = r.key.Namespace
				if _, seen := groups[g]; !seen {
					consumers[svc] = append(consumers[svc], g.consumer)
				}
			}
			groups[g] = append(groups[g], bound{route: r.key, kind: r.kind, ms: ms, ports: ports})
		}
	}

	conflicts := map[Skipped]bool{}
	for _, s := range in.Services {
		if s == nil || !in.Waypoint.servesServices() || !ix.usesWaypoint(s) {
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
			d.Self = ix.resolve(referrer{namespace: name.Namespace, kind: kindHTTPRoute}, gwv1.BackendObjectReference{Name: gwv1.ObjectName(name.Name), Port: &d.Port})
			// Service routes win; Waypoint-parented routes apply otherwise;
			// with neither, the Service itself.
			d.producer = selectRoutes(groups[groupKey{svc: name}], sp.Port, name, conflicts)
			if len(d.producer.ms) == 0 {
				d.producer = selectRoutes(waypointRoutes, sp.Port, name, conflicts)
			}
			if len(d.producer.ms) == 0 {
				d.producer = matcherSet{ms: []*matcher{defaultMatcher(ix, name, sp.Port)}}
			}
			for _, ns := range consumers[name] {
				set := selectRoutes(groups[groupKey{svc: name, consumer: ns}], sp.Port, name, conflicts)
				if len(set.ms) > 0 {
					if d.consumers == nil {
						d.consumers = map[string]matcherSet{}
					}
					d.consumers[ns] = set
				}
			}
			for _, ip := range clusterIPs(s) {
				t.destinations[netip.AddrPortFrom(ip, uint16(sp.Port))] = d
			}
		}
	}
	// Pods addressed by IP get the policies attached to the waypoint; a
	// Service's policies apply to traffic addressed to that Service.
	t.workloads = compileWorkloads(ix, t.Policies.ForWaypoint(wp, types.NamespacedName{}))
	for s := range conflicts {
		t.Skipped = append(t.Skipped, s)
	}
	slices.SortFunc(t.Skipped[len(t.Skipped)-len(conflicts):], func(a, b Skipped) int {
		return cmp.Or(strings.Compare(a.Route.String(), b.Route.String()), strings.Compare(a.Reason, b.Reason))
	})
	return t
}

// collectRoutes lists the HTTPRoutes and GRPCRoutes in the spec's order of
// precedence across routes: oldest first, then "{namespace}/{name}".
func collectRoutes(in *Input) []routeMeta {
	var out []routeMeta
	for _, r := range in.HTTPRoutes {
		if r != nil {
			out = append(out, routeMeta{
				key: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}, kind: kindHTTPRoute,
				created: r.CreationTimestamp.Time, parents: r.Spec.ParentRefs,
				compile: func(ix *index, from referrer) ([]*matcher, []Skipped) { return compileRoute(ix, r, from) },
			})
		}
	}
	for _, r := range in.GRPCRoutes {
		if r != nil {
			out = append(out, routeMeta{
				key: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}, kind: kindGRPCRoute,
				created: r.CreationTimestamp.Time, parents: r.Spec.ParentRefs,
				compile: func(ix *index, from referrer) ([]*matcher, []Skipped) { return compileGRPCRoute(ix, r, from) },
			})
		}
	}
	slices.SortStableFunc(out, func(a, b routeMeta) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.key.String(), b.key.String())
	})
	return out
}

// selectRoutes picks the matchers of the routes in one group that select
// port. GEP-1294: when GRPCRoutes and HTTPRoutes bind the same Service port,
// only the GRPCRoutes apply; each HTTPRoute left out is recorded once in
// conflicts.
func selectRoutes(group []bound, port int32, svc types.NamespacedName, conflicts map[Skipped]bool) matcherSet {
	grpc := slices.ContainsFunc(group, func(b bound) bool { return b.kind == kindGRPCRoute && portSelected(b.ports, port) })
	var set matcherSet
	set.grpc = grpc
	for _, b := range group {
		if !portSelected(b.ports, port) {
			continue
		}
		if grpc && b.kind != kindGRPCRoute {
			conflicts[Skipped{Route: b.route, Rule: -1, Reason: fmt.Sprintf(
				"Conflicted: GRPCRoutes take precedence over HTTPRoutes on Service %s port %d (GEP-1294)", svc, port)}] = true
			continue
		}
		set.ms = append(set.ms, b.ms...)
	}
	if grpc {
		sortGRPCMatchers(set.ms)
	} else {
		sortMatchers(set.ms)
	}
	return set
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
	b := ix.resolve(referrer{namespace: svc.Namespace, kind: kindHTTPRoute}, gwv1.BackendObjectReference{Name: gwv1.ObjectName(svc.Name), Port: &port})
	return defaultMatcherTo(b)
}

func defaultMatcherTo(b *Backend) *matcher {
	rule := &Rule{RouteLabel: defaultRouteLabel, Backends: []WeightedBackend{{Backend: b, Weight: 1}}, totalWeight: 1}
	return &matcher{kind: pathPrefix, path: "/", rule: rule}
}

// attachments reads parentRefs: GAMMA (a Service: in the route's namespace a
// producer route, in another a consumer route) or this Waypoint (kind
// Waypoint, or a Gateway of the same name).
func attachments(in *Input, routeNS string, parents []gwv1.ParentReference) (routeAttachment, string) {
	att := routeAttachment{services: map[types.NamespacedName][]int32{}, consumerOnly: true}
	for _, p := range parents {
		group, kind := gatewayAPIGroup, "Gateway"
		if p.Group != nil {
			group = string(*p.Group)
		}
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		ns := routeNS
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		switch {
		case (group == "" || group == "core") && kind == "Service":
			port := int32(0)
			if p.Port != nil {
				port = *p.Port
			}
			k := types.NamespacedName{Namespace: ns, Name: string(p.Name)}
			att.services[k] = append(att.services[k], port)
			att.consumerOnly = att.consumerOnly && ns != routeNS
		case ns == in.Waypoint.Namespace && string(p.Name) == in.Waypoint.Name &&
			((group == gatewayAPIGroup && kind == "Gateway") || (group == waypointAPIGroup && kind == "Waypoint")):
			att.waypoint = true
			att.consumerOnly = false
		}
	}
	if !att.waypoint && len(att.services) == 0 {
		return att, "no parentRef to this waypoint or to a Service"
	}
	return att, ""
}

// compileRoute compiles every rule of an HTTPRoute; invalid rules are
// reported and skipped.
func compileRoute(ix *index, r *gwv1.HTTPRoute, from referrer) ([]*matcher, []Skipped) {
	key := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
	var out []*matcher
	var skipped []Skipped
	for i := range r.Spec.Rules {
		rule, ms, err := compileRule(ix, r, i, from)
		if err != nil {
			skipped = append(skipped, Skipped{Route: key, Rule: i, Reason: err.Error()})
			continue
		}
		out = append(out, placeMatchers(ms, rule, r.ObjectMeta.CreationTimestamp.Time, key, i, r.Spec.Hostnames)...)
	}
	return out, skipped
}

// placeMatchers fills in a rule's matchers' rule and tie-breakers, one per
// hostname of the route, so each ranks by the hostname it matches.
func placeMatchers(ms []*matcher, rule *Rule, created time.Time, key types.NamespacedName, ruleIdx int, hostnames []gwv1.Hostname) []*matcher {
	var out []*matcher
	for _, m := range ms {
		m.rule = rule
		m.created = created
		m.routeKey = key.String()
		m.ruleIdx = ruleIdx
		if len(hostnames) == 0 {
			out = append(out, m)
			continue
		}
		for _, h := range hostnames {
			hm := *m
			host := strings.ToLower(string(h))
			hm.hostnames = []string{host}
			hm.hostRank = len(host)
			if !strings.HasPrefix(host, "*.") {
				hm.hostRank += 1 << 16
			}
			out = append(out, &hm)
		}
	}
	return out
}

func compileRule(ix *index, r *gwv1.HTTPRoute, i int, from referrer) (*Rule, []*matcher, error) {
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
	if err := compileFilters(ix, from, src.Filters, rule, ms); err != nil {
		return nil, nil, err
	}
	for j := range src.BackendRefs {
		br := &src.BackendRefs[j]
		wb, err := weightedBackend(ix, from, br.BackendRef)
		if err != nil {
			return nil, nil, fmt.Errorf("backendRefs[%d]: %w", j, err)
		}
		if err := backendFilters(br.Filters, &wb); err != nil {
			return nil, nil, fmt.Errorf("backendRefs[%d]: %w", j, err)
		}
		rule.Backends = append(rule.Backends, wb)
		rule.totalWeight += int64(wb.Weight)
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

// weightedBackend resolves one backendRef and its weight (default 1).
func weightedBackend(ix *index, from referrer, br gwv1.BackendRef) (WeightedBackend, error) {
	w := int32(1)
	if br.Weight != nil {
		w = *br.Weight
	}
	if w < 0 {
		return WeightedBackend{}, fmt.Errorf("negative weight")
	}
	return WeightedBackend{Backend: ix.resolve(from, br.BackendObjectReference), Weight: w}, nil
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
		return tieBreak(a, b)
	})
}

// tieBreak orders matchers of equal precedence: the older route, then
// "{namespace}/{name}", then rule order, then match order.
func tieBreak(a, b *matcher) int {
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
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
