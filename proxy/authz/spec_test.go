package authz_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/authz/authztest"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

const (
	client   = "spiffe://cluster.local/ns/app/sa/client"
	evil     = "spiffe://cluster.local/ns/other/sa/evil"
	waypoint = "spiffe://cluster.local/ns/app/sa/wp"
	foreign  = "spiffe://partner.example/ns/app/sa/client"
)

// policy is a policy of namespace app, where the spec cases' workload runs.
func policy(t testing.TB, name, spec string) *meshv1alpha1.AuthorizationPolicy {
	return authztest.Policy(t, "app", name, spec)
}

// req is a request in the tests' shorthand; zero fields get defaults: the
// client identity from 10.1.0.5, to 10.96.0.10:80, GET / on Host web.app.
type req struct {
	l4                 bool // evaluate at L4 (ztunnel), else L7 (waypoint)
	plaintext          bool // no source identity
	src, origin        string
	srcIP, originIP    string
	dst                string
	host, method, path string
	header             http.Header
}

func (q req) build(t testing.TB) *authz.L7Request {
	t.Helper()
	id := func(s string) identity.ID {
		if s == "" {
			return identity.ID{}
		}
		return identity.MustParse(s)
	}
	ip := func(s string) netip.Addr {
		if s == "" {
			return netip.Addr{}
		}
		return netip.MustParseAddr(s)
	}
	r := &authz.L7Request{Host: "web.app", Method: "GET", Path: "/", Header: q.header}
	r.Source = authz.Peer{Identity: id(or(q.src, client)), IP: ip(or(q.srcIP, "10.1.0.5"))}
	if q.plaintext {
		r.Source.Identity = identity.ID{}
	}
	r.Origin = authz.Peer{Identity: id(q.origin), IP: ip(q.originIP)}
	r.Destination = netip.MustParseAddrPort(or(q.dst, "10.96.0.10:80"))
	r.Host, r.Method, r.Path = or(q.host, r.Host), or(q.method, r.Method), or(q.path, r.Path)
	return r
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type want struct {
	allowed bool
	reason  authz.Reason
	policy  string // name of Decision.Policy, "" for none
	rule    int
}

var (
	allowedNoPolicy = want{true, authz.ReasonNoPolicy, "", -1}
	noAllowMatch    = want{false, authz.ReasonNoAllowMatch, "", -1}
	noAllowPolicy   = want{true, authz.ReasonNoAllowPolicy, "", -1}
)

func allowedBy(policy string, rule int) want { return want{true, authz.ReasonAllowRule, policy, rule} }
func deniedBy(policy string, rule int) want  { return want{false, authz.ReasonDenyRule, policy, rule} }

type specCase struct {
	name     string
	policies []string // "name: <spec yaml>"; specs are flow YAML on one line or block YAML
	req      req
	want     want
}

// specCases are the semantics of docs/authorization.md, one per rule type
// and combination. Policies have no selector or targetRefs, so they all
// select the workload the cases evaluate.
var specCases = []specCase{
	// Defaults.
	{"no policy allows", nil, req{}, allowedNoPolicy},
	{"empty ALLOW policy allows nothing", []string{"deny-all: {}"}, req{}, noAllowMatch},
	{"ALLOW with an empty rule allows everything", []string{"allow-all: {rules: [{}]}"}, req{}, allowedBy("allow-all", 0)},
	{"DENY with an empty rule denies everything", []string{"deny: {action: DENY, rules: [{}]}"}, req{}, deniedBy("deny", 0)},
	{"DENY without rules denies nothing", []string{"deny: {action: DENY}"}, req{}, noAllowPolicy},

	// Principals.
	{"principal in Istio's form", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{}, allowedBy("p", 0)},
	{"principal of another client", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{src: evil}, noAllowMatch},
	{"principal as a full SPIFFE ID", []string{"p: {rules: [{from: [{source: {principals: ['spiffe://cluster.local/ns/app/sa/client']}}]}]}"}, req{}, allowedBy("p", 0)},
	{"principal without trust domain matches any trust domain", []string{"p: {rules: [{from: [{source: {principals: [ns/app/sa/client]}}]}]}"}, req{src: foreign}, allowedBy("p", 0)},
	{"principal with a trust domain does not match another", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{src: foreign}, noAllowMatch},
	{"principal prefix", []string{"p: {rules: [{from: [{source: {principals: ['cluster.local/ns/app/*']}}]}]}"}, req{}, allowedBy("p", 0)},
	{"principal prefix of another namespace", []string{"p: {rules: [{from: [{source: {principals: ['cluster.local/ns/app/*']}}]}]}"}, req{src: evil}, noAllowMatch},
	{"principal suffix", []string{"p: {rules: [{from: [{source: {principals: ['*/sa/client']}}]}]}"}, req{src: foreign}, allowedBy("p", 0)},
	{"principal * needs an identity", []string{"p: {rules: [{from: [{source: {principals: ['*']}}]}]}"}, req{plaintext: true}, noAllowMatch},
	{"principal * matches any authenticated peer", []string{"p: {rules: [{from: [{source: {principals: ['*']}}]}]}"}, req{src: evil}, allowedBy("p", 0)},
	{"notPrincipals * denies plaintext", []string{"d: {action: DENY, rules: [{from: [{source: {notPrincipals: ['*']}}]}]}"}, req{plaintext: true}, deniedBy("d", 0)},
	{"notPrincipals * lets authenticated peers through", []string{"d: {action: DENY, rules: [{from: [{source: {notPrincipals: ['*']}}]}]}"}, req{}, noAllowPolicy},

	// Service accounts and namespaces.
	{"serviceAccounts", []string{"p: {rules: [{from: [{source: {serviceAccounts: [app/client]}}]}]}"}, req{src: foreign}, allowedBy("p", 0)},
	{"notServiceAccounts", []string{"d: {action: DENY, rules: [{from: [{source: {notServiceAccounts: [app/client]}}]}]}"}, req{src: evil}, deniedBy("d", 0)},
	{"namespaces", []string{"p: {rules: [{from: [{source: {namespaces: [app]}}]}]}"}, req{}, allowedBy("p", 0)},
	{"namespaces prefix", []string{"p: {rules: [{from: [{source: {namespaces: ['oth*']}}]}]}"}, req{src: evil}, allowedBy("p", 0)},
	{"notNamespaces", []string{"d: {action: DENY, rules: [{from: [{source: {notNamespaces: [app]}}]}]}"}, req{src: evil}, deniedBy("d", 0)},
	{"namespaces never match plaintext", []string{"p: {rules: [{from: [{source: {namespaces: ['*']}}]}]}"}, req{plaintext: true}, noAllowMatch},

	// Addresses.
	{"ipBlocks CIDR", []string{"p: {rules: [{from: [{source: {ipBlocks: [10.1.0.0/16]}}]}]}"}, req{}, allowedBy("p", 0)},
	{"ipBlocks outside", []string{"p: {rules: [{from: [{source: {ipBlocks: [10.2.0.0/16]}}]}]}"}, req{}, noAllowMatch},
	{"notIpBlocks single address", []string{"d: {action: DENY, rules: [{from: [{source: {notIpBlocks: [10.1.0.5]}}]}]}"}, req{srcIP: "10.1.0.6"}, deniedBy("d", 0)},
	{"ipBlocks IPv6", []string{"p: {rules: [{from: [{source: {ipBlocks: ['fd00:1::/64']}}]}]}"}, req{srcIP: "fd00:1::7"}, allowedBy("p", 0)},
	{"ipBlocks IPv4 matches an IPv4-mapped source", []string{"p: {rules: [{from: [{source: {ipBlocks: [10.1.0.0/16]}}]}]}"}, req{srcIP: "::ffff:10.1.2.3"}, allowedBy("p", 0)},

	// Operations.
	{"ports", []string{"p: {rules: [{to: [{operation: {ports: ['80']}}]}]}"}, req{}, allowedBy("p", 0)},
	{"ports of another port", []string{"p: {rules: [{to: [{operation: {ports: ['8080']}}]}]}"}, req{}, noAllowMatch},
	{"notPorts", []string{"d: {action: DENY, rules: [{to: [{operation: {notPorts: ['8080']}}]}]}"}, req{}, deniedBy("d", 0)},
	{"methods", []string{"p: {rules: [{to: [{operation: {methods: [GET, HEAD]}}]}]}"}, req{method: "HEAD"}, allowedBy("p", 0)},
	{"methods are case-sensitive", []string{"p: {rules: [{to: [{operation: {methods: [get]}}]}]}"}, req{}, noAllowMatch},
	{"notMethods", []string{"d: {action: DENY, rules: [{to: [{operation: {notMethods: [GET]}}]}]}"}, req{method: "DELETE"}, deniedBy("d", 0)},
	{"paths exact", []string{"p: {rules: [{to: [{operation: {paths: [/api/v1]}}]}]}"}, req{path: "/api/v1"}, allowedBy("p", 0)},
	{"paths exact does not match a longer path", []string{"p: {rules: [{to: [{operation: {paths: [/api/v1]}}]}]}"}, req{path: "/api/v1/x"}, noAllowMatch},
	{"paths prefix", []string{"p: {rules: [{to: [{operation: {paths: ['/api/*']}}]}]}"}, req{path: "/api/v1/x"}, allowedBy("p", 0)},
	{"paths suffix", []string{"p: {rules: [{to: [{operation: {paths: ['*.png']}}]}]}"}, req{path: "/img/a.png"}, allowedBy("p", 0)},
	{"notPaths", []string{"d: {action: DENY, rules: [{to: [{operation: {notPaths: ['/public/*']}}]}]}"}, req{path: "/private"}, deniedBy("d", 0)},
	{"paths see through dot segments", []string{"d: {action: DENY, rules: [{to: [{operation: {paths: ['/admin/*']}}]}]}"}, req{path: "/public/../admin/users"}, deniedBy("d", 0)},
	{"paths see through encoded letters and dots", []string{"d: {action: DENY, rules: [{to: [{operation: {paths: ['/admin/*']}}]}]}"}, req{path: "/x/%2e%2E/%61dmin/users"}, deniedBy("d", 0)},
	{"hosts are case-insensitive", []string{"p: {rules: [{to: [{operation: {hosts: [Web.App]}}]}]}"}, req{host: "WEB.app"}, allowedBy("p", 0)},
	{"hosts exact does not match with a port", []string{"p: {rules: [{to: [{operation: {hosts: [web.app]}}]}]}"}, req{host: "web.app:80"}, noAllowMatch},
	{"hosts prefix matches any port", []string{"p: {rules: [{to: [{operation: {hosts: ['web.app:*']}}]}]}"}, req{host: "web.app:8080"}, allowedBy("p", 0)},
	{"notHosts suffix", []string{"d: {action: DENY, rules: [{to: [{operation: {notHosts: ['*.app']}}]}]}"}, req{host: "web.example"}, deniedBy("d", 0)},

	// Conditions.
	{"when header prefix", []string{"p: {rules: [{when: [{key: 'request.headers[x-env]', values: ['prod*']}]}]}"}, req{header: http.Header{"X-Env": {"prod-eu"}}}, allowedBy("p", 0)},
	{"when header missing does not match values", []string{"p: {rules: [{when: [{key: 'request.headers[x-env]', values: ['*']}]}]}"}, req{}, noAllowMatch},
	{"when header missing matches notValues", []string{"p: {rules: [{when: [{key: 'request.headers[X-Env]', notValues: [test]}]}]}"}, req{}, allowedBy("p", 0)},
	{"when repeated header matches its joined values", []string{"p: {rules: [{when: [{key: 'request.headers[x-a]', values: ['1,2']}]}]}"}, req{header: http.Header{"X-A": {"1", "2"}}}, allowedBy("p", 0)},
	{"when source.ip", []string{"p: {rules: [{when: [{key: source.ip, values: [10.1.0.0/24]}]}]}"}, req{}, allowedBy("p", 0)},
	{"when source.namespace notValues", []string{"d: {action: DENY, rules: [{when: [{key: source.namespace, notValues: [app]}]}]}"}, req{src: evil}, deniedBy("d", 0)},
	{"when source.principal", []string{"p: {rules: [{when: [{key: source.principal, values: ['cluster.local/ns/app/sa/client']}]}]}"}, req{}, allowedBy("p", 0)},
	{"when destination.port", []string{"p: {rules: [{when: [{key: destination.port, values: ['8080']}]}]}"}, req{dst: "10.96.0.10:8080"}, allowedBy("p", 0)},
	{"when destination.ip", []string{"d: {action: DENY, rules: [{when: [{key: destination.ip, values: [10.96.0.0/12]}]}]}"}, req{}, deniedBy("d", 0)},
	{"when host pseudo-header", []string{"p: {rules: [{when: [{key: 'request.headers[:authority]', values: [web.app]}]}]}"}, req{}, allowedBy("p", 0)},

	// Combinations.
	{"from and to must both match", []string{"p: {rules: [{from: [{source: {namespaces: [app]}}], to: [{operation: {methods: [POST]}}]}]}"}, req{}, noAllowMatch},
	{"fields of one source are ANDed", []string{"p: {rules: [{from: [{source: {namespaces: [app], ipBlocks: [10.9.0.0/16]}}]}]}"}, req{}, noAllowMatch},
	{"several sources are ORed", []string{"p: {rules: [{from: [{source: {namespaces: [nope]}}, {source: {ipBlocks: [10.1.0.5]}}]}]}"}, req{}, allowedBy("p", 0)},
	{"rules are ORed and the matching one is named", []string{"p: {rules: [{to: [{operation: {methods: [POST]}}]}, {to: [{operation: {paths: [/]}}]}]}"}, req{}, allowedBy("p", 1)},
	{"conditions are ANDed", []string{"p: {rules: [{when: [{key: source.namespace, values: [app]}, {key: destination.port, values: ['443']}]}]}"}, req{}, noAllowMatch},
	{"DENY wins over ALLOW", []string{"allow: {rules: [{}]}", "deny: {action: DENY, rules: [{to: [{operation: {methods: [GET]}}]}]}"}, req{}, deniedBy("deny", 0)},
	{"any ALLOW policy may allow", []string{"a1: {rules: [{from: [{source: {namespaces: [nope]}}]}]}", "a2: {rules: [{from: [{source: {namespaces: [app]}}]}]}"}, req{}, allowedBy("a2", 0)},
	{"AUDIT does not change the decision", []string{"audit: {action: AUDIT, rules: [{}]}"}, req{}, noAllowPolicy},

	// Policies that do not compile fail closed.
	{"broken ALLOW denies even when another ALLOW matches", []string{"ok: {rules: [{}]}", "broken: {rules: [{from: [{source: {ipBlocks: [10.0.0.0/99]}}]}]}"}, req{}, want{false, authz.ReasonInvalidPolicy, "broken", -1}},
	{"broken DENY denies everything", []string{"broken: {action: DENY, rules: [{to: [{operation: {ports: ['0']}}]}]}"}, req{}, want{false, authz.ReasonInvalidPolicy, "broken", -1}},
	{"broken AUDIT is inert", []string{"broken: {action: AUDIT, rules: [{when: [{key: connection.sni, values: [x]}]}]}"}, req{}, noAllowPolicy},

	// L4 (ztunnel): HTTP fields are invisible and fail closed.
	{"L4: ALLOW rule with methods never matches", []string{"p: {rules: [{to: [{operation: {methods: [GET]}}]}]}"}, req{l4: true}, noAllowMatch},
	{"L4: DENY rule with paths matches on its ports", []string{"d: {action: DENY, rules: [{to: [{operation: {ports: ['80'], paths: ['/admin']}}]}]}"}, req{l4: true}, deniedBy("d", 0)},
	{"L4: DENY rule with paths keeps its port condition", []string{"d: {action: DENY, rules: [{to: [{operation: {ports: ['8080'], paths: ['/admin']}}]}]}"}, req{l4: true}, noAllowPolicy},
	{"L4: DENY header condition matches", []string{"d: {action: DENY, rules: [{from: [{source: {namespaces: [other]}}], when: [{key: 'request.headers[x]', values: [y]}]}]}"}, req{l4: true, src: evil}, deniedBy("d", 0)},
	{"L4: L4 fields still work", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}], to: [{operation: {ports: ['80']}}]}]}"}, req{l4: true}, allowedBy("p", 0)},

	// Through a waypoint, the destination ztunnel sees the waypoint and the original client.
	{"L4 via waypoint: the original client is allowed", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{l4: true, src: waypoint, origin: client}, allowedBy("p", 0)},
	{"L4 via waypoint: another original client is not", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{l4: true, src: waypoint, origin: evil}, noAllowMatch},
	{"L4 via waypoint: allowing the waypoint allows what it forwards", []string{"p: {rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/wp]}}]}]}"}, req{l4: true, src: waypoint, origin: evil}, allowedBy("p", 0)},
	{"L4 via waypoint: DENY of a namespace reaches the original client", []string{"d: {action: DENY, rules: [{from: [{source: {namespaces: [other]}}]}]}"}, req{l4: true, src: waypoint, origin: evil}, deniedBy("d", 0)},
	{"L4 via waypoint: notPrincipals needs every peer outside the list", []string{"d: {action: DENY, rules: [{from: [{source: {notPrincipals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{l4: true, src: waypoint, origin: client}, noAllowPolicy},
	{"L4 via waypoint: notPrincipals denies another original client", []string{"d: {action: DENY, rules: [{from: [{source: {notPrincipals: [cluster.local/ns/app/sa/client]}}]}]}"}, req{l4: true, src: waypoint, origin: evil}, deniedBy("d", 0)},
	{"L4 via waypoint: ipBlocks see the original address", []string{"p: {rules: [{from: [{source: {ipBlocks: [10.7.0.0/16]}}]}]}"}, req{l4: true, src: waypoint, srcIP: "10.1.9.9", origin: client, originIP: "10.7.1.1"}, allowedBy("p", 0)},
}

func TestSpec(t *testing.T) {
	if len(specCases) < 40 {
		t.Fatalf("the spec table must have at least 40 cases, has %d", len(specCases))
	}
	for _, tc := range specCases {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*meshv1alpha1.AuthorizationPolicy
			for _, p := range tc.policies {
				name, spec, _ := strings.Cut(p, ": ")
				ps = append(ps, policy(t, name, spec))
			}
			ev := authz.Compile(ps, authz.Options{RootNamespace: "wayfabric-system"}).ForWorkload(authz.Workload{Namespace: "app"})
			r := tc.req.build(t)
			var d authz.Decision
			if tc.req.l4 {
				d = ev.L4(&r.L4Request)
			} else {
				d = ev.L7(r)
			}
			got := want{allowed: d.Allowed, reason: d.Reason, rule: d.Rule}
			if d.Policy != nil {
				got.policy = d.Policy.Name
			}
			if got != tc.want {
				t.Errorf("decision = %+v (reason %s), want %+v (reason %s)", got, got.reason, tc.want, tc.want.reason)
			}
			if d.Allowed != d.Reason.Allowed() {
				t.Errorf("Allowed %v disagrees with reason %s", d.Allowed, d.Reason)
			}
		})
	}
}
