package routing

import (
	"net/netip"
	"regexp"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/proxy/authz"
)

// Protocol is how the waypoint reads the inner stream for a destination port.
type Protocol uint8

const (
	// ProtocolSniff: nothing declared; sniff HTTP/1 or HTTP/2, else pass through as L4.
	ProtocolSniff Protocol = iota
	// ProtocolHTTP: declared HTTP/1.1 or HTTP/2 (appProtocol or port name).
	ProtocolHTTP
	// ProtocolTCP: declared as something other than HTTP; always L4.
	ProtocolTCP
)

// Table is the compiled, immutable routing state of one waypoint.
type Table struct {
	destinations map[netip.AddrPort]*Destination
	// workloads are the pods served by address (Waypoint.For workload or all).
	workloads map[netip.Addr]*workload
	// Skipped lists routes or rules left out of the table and why. The
	// operator reports the same conditions in route status.
	Skipped []Skipped
	// Policies are the compiled AuthorizationPolicies (for metrics and logs).
	Policies *authz.Set
}

// Skipped records a route (Rule == -1) or a single rule that was not compiled.
type Skipped struct {
	Route  types.NamespacedName
	Rule   int
	Reason string
}

// Destination is one Service port that uses this waypoint, or one port of
// a pod addressed by IP (Workload).
type Destination struct {
	Service types.NamespacedName
	// ServiceLabel is Service.String(), kept for per-request metrics.
	ServiceLabel string
	Port         int32
	Protocol     Protocol
	// Workload: the destination is a pod (Service names the pod), not a Service.
	Workload bool
	// Self is the Service port itself: where L4 (non-HTTP) traffic goes.
	Self *Backend
	// Authz is what the waypoint enforces on this destination's traffic;
	// nil when no policy applies (everything allowed, at no cost).
	Authz *authz.Evaluator
	// producer holds the routes for every client: the Service's own
	// (producer) routes, else the waypoint's, else the default route.
	producer matcherSet
	// consumers holds, per client namespace, the consumer routes of that
	// namespace (GEP-1294): they replace producer for its clients only.
	consumers map[string]matcherSet
}

// matcherSet is the ordered matchers of one group of routes of one kind:
// GRPCRoutes and HTTPRoutes never merge (GEP-1016, GEP-1294).
type matcherSet struct {
	ms   []*matcher
	grpc bool
}

// Endpoint is one ready address of a backend.
type Endpoint struct {
	Addr netip.AddrPort
	// InMesh endpoints are reached over HBONE; others as plain HTTP.
	InMesh bool
	// Namespace and ServiceAccount name the workload identity an in-mesh
	// endpoint must prove (from the EndpointSlice's Pod and Input.PodServiceAccounts).
	Namespace, ServiceAccount string
}

// Backend is a resolved backendRef target: a Service port and its ready endpoints.
type Backend struct {
	Service types.NamespacedName
	Port    int32
	// H2C: the service port declares HTTP/2 without TLS (appProtocol).
	H2C bool
	// FollowClient: the port declares no HTTP version, so requests go
	// upstream in the version the client used (HTTP/2 as h2c).
	FollowClient bool
	Endpoints    []Endpoint
	// Invalid is non-empty when the reference cannot be used (requests to it get 500).
	Invalid string
}

// Label is "namespace/name:port", used in metrics.
func (b *Backend) Label() string {
	return b.Service.String() + ":" + itoa(int(b.Port))
}

// WeightedBackend is one backendRef of a rule.
type WeightedBackend struct {
	Backend         *Backend
	Weight          int32
	RequestHeaders  *HeaderModifier
	ResponseHeaders *HeaderModifier
}

// Mirror sends a copy of a fraction of requests to Backend; responses are ignored.
type Mirror struct {
	Backend *Backend
	// Numerator/Denominator of requests mirrored.
	Numerator, Denominator int32
}

// Retry is GEP-1731 retry policy of a rule.
type Retry struct {
	// Attempts is the number of retries after the first attempt.
	Attempts int
	Codes    map[int]bool
	Backoff  time.Duration
}

// Rule is one compiled HTTPRoute rule.
type Rule struct {
	Route types.NamespacedName
	Index int
	Name  string
	// RouteLabel is "namespace/name" of the route, or "default".
	RouteLabel string

	RequestHeaders  *HeaderModifier
	ResponseHeaders *HeaderModifier
	Redirect        *Redirect
	Rewrite         *Rewrite
	Mirrors         []Mirror
	CORS            *CORS
	Backends        []WeightedBackend
	totalWeight     int64

	// RequestTimeout and BackendTimeout: 0 means no timeout.
	RequestTimeout time.Duration
	BackendTimeout time.Duration
	Retry          *Retry
}

// Match is the result of routing a request.
type Match struct {
	Rule *Rule
	// Prefix is the PathPrefix value that matched ("" for other match types),
	// used by ReplacePrefixMatch.
	Prefix string
}

type pathKind uint8

// Order matters: it is the precedence of path match types.
const (
	pathExact pathKind = iota
	pathRegex
	pathPrefix
)

type valueMatch struct {
	name  string
	value string
	re    *regexp.Regexp
}

func (v *valueMatch) matches(got string) bool {
	if v.re != nil {
		return v.re.MatchString(got)
	}
	return got == v.value
}

type matcher struct {
	// grpcService and grpcMethod are the lengths of a GRPCRoute method
	// match's service and method, for GRPCRoute precedence.
	grpcService, grpcMethod int
	kind                    pathKind
	path                    string
	pathRE                  *regexp.Regexp
	method                  string
	headers                 []valueMatch
	query                   []valueMatch
	hostnames               []string
	// hostRank orders matchers of routes with hostnames: an exact hostname
	// beats a wildcard, longer beats shorter; 0 for routes without hostnames.
	hostRank int
	rule     *Rule

	created  time.Time
	routeKey string
	ruleIdx  int
	matchIdx int
}

// Lookup returns the destination for a Service VIP and port, or for a port
// of a pod this waypoint serves by address, or nil.
func (t *Table) Lookup(addr netip.AddrPort) *Destination {
	if t == nil {
		return nil
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if d := t.destinations[addr]; d != nil {
		return d
	}
	if w := t.workloads[addr.Addr()]; w != nil {
		return w.destination(addr.Port())
	}
	return nil
}

// Destinations returns the number of Service destinations (for logs).
func (t *Table) Destinations() int {
	if t == nil {
		return 0
	}
	return len(t.destinations)
}

// Workloads returns the number of pods served by address (for logs).
func (t *Table) Workloads() int {
	if t == nil {
		return 0
	}
	return len(t.workloads)
}

// routesFor returns the routes that apply to a client in namespace client
// ("" when unknown): its namespace's consumer routes if it has any for this
// destination, else the producer's.
func (d *Destination) routesFor(client string) matcherSet {
	if set, ok := d.consumers[client]; ok && client != "" {
		return set
	}
	return d.producer
}

// route picks the rule for r (its client namespace selects consumer
// routes). Match.Rule is nil when no rule matches (404). path must be the
// normalised request path (see NormalizePath).
func (d *Destination) route(r *Request, path string) Match {
	host := stripPort(r.Host)
	for _, m := range d.routesFor(r.Client).ms {
		if m.matches(r, path, host) {
			p := ""
			if m.kind == pathPrefix {
				p = m.path
			}
			return Match{Rule: m.rule, Prefix: p}
		}
	}
	return Match{}
}

func (m *matcher) matches(r *Request, path, host string) bool {
	switch m.kind {
	case pathExact:
		if path != m.path {
			return false
		}
	case pathPrefix:
		if !prefixMatch(path, m.path) {
			return false
		}
	case pathRegex:
		if !m.pathRE.MatchString(path) {
			return false
		}
	}
	if m.method != "" && r.Method != m.method {
		return false
	}
	if len(m.hostnames) > 0 && !hostnameMatch(m.hostnames, host) {
		return false
	}
	for i := range m.headers {
		val, ok := r.header(m.headers[i].name)
		if !ok || !m.headers[i].matches(val) {
			return false
		}
	}
	if len(m.query) > 0 {
		q := r.query()
		for i := range m.query {
			vals, ok := q[m.query[i].name]
			// The spec recommends matching the first value of a repeated parameter.
			if !ok || !m.query[i].matches(vals[0]) {
				return false
			}
		}
	}
	return true
}

// PickBackend chooses a backendRef by weight using n (any random number).
// It returns nil when the rule has no backend with a positive weight.
func (r *Rule) PickBackend(n uint64) *WeightedBackend {
	if r.totalWeight == 0 {
		return nil
	}
	x := int64(n % uint64(r.totalWeight))
	for i := range r.Backends {
		x -= int64(r.Backends[i].Weight)
		if x < 0 {
			return &r.Backends[i]
		}
	}
	return nil
}
