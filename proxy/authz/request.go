package authz

import (
	"net/http"
	"net/netip"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// Peer is one party a connection came from.
type Peer struct {
	// Identity is the peer's verified SPIFFE identity; zero when the peer
	// did not authenticate (plaintext).
	Identity identity.ID
	// IP is the peer's address; the zero Addr when unknown.
	IP netip.Addr
}

// L4Request is a connection as a destination ztunnel (or a waypoint's L4
// passthrough) sees it.
type L4Request struct {
	// Source opened the connection: the mTLS peer, with the address the
	// tunnel reports for it (HBONE Forwarded: for=, else the TCP peer).
	Source Peer
	// Origin is the original client when Source is a mesh proxy (a
	// waypoint) that forwarded it. Set it only when Source.Identity is a
	// waypoint's own identity: an ordinary workload must never be able to
	// claim someone else's identity or address. Zero otherwise.
	Origin Peer
	// Destination is the address the client connected to: the workload's
	// ip:port at a ztunnel, the Service VIP:port at a waypoint.
	Destination netip.AddrPort
}

// L7Request is an HTTP request as a waypoint sees it.
type L7Request struct {
	L4Request
	// Host is the request's Host (HTTP/2 :authority), as sent.
	Host string
	// Method is the request method.
	Method string
	// Path is the escaped request path without the query
	// (http.Request.URL.EscapedPath()); the evaluator normalises it.
	Path string
	// Header holds the request header fields with canonical names.
	Header http.Header
}

// Reason says why a decision was taken; its String is the metric label.
type Reason uint8

const (
	// ReasonNoPolicy: no policy selects the destination; allowed.
	ReasonNoPolicy Reason = iota
	// ReasonNoAllowPolicy: only DENY or AUDIT policies select the
	// destination and none denied; allowed.
	ReasonNoAllowPolicy
	// ReasonAllowRule: a rule of an ALLOW policy matched; allowed.
	ReasonAllowRule
	// ReasonDenyRule: a rule of a DENY policy matched; denied.
	ReasonDenyRule
	// ReasonInvalidPolicy: a policy that selects the destination did not
	// compile; it denies everything (fail closed).
	ReasonInvalidPolicy
	// ReasonNoAllowMatch: ALLOW policies select the destination and none
	// matched; denied by default.
	ReasonNoAllowMatch
	numReasons
)

var reasonNames = [numReasons]string{"no_policy", "no_allow_policy", "allow_rule", "deny_rule", "invalid_policy", "no_allow_match"}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every reason, for pre-creating metric series.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// Allowed reports whether a decision with this reason lets traffic through.
func (r Reason) Allowed() bool { return r <= ReasonAllowRule }

// Decision is the outcome of one evaluation. It points into the compiled
// Set and never allocates.
type Decision struct {
	// Allowed is the verdict.
	Allowed bool
	Reason  Reason
	// Policy decided: the DENY or invalid policy that denied, the ALLOW
	// policy that allowed. Nil for ReasonNoPolicy, ReasonNoAllowPolicy and
	// ReasonNoAllowMatch.
	Policy *Policy
	// Rule is the index in Policy's spec.rules of the rule that matched; -1
	// when no rule did.
	Rule int
	// Audit is the first AUDIT policy a rule of which matched (AuditRule);
	// nil when none. It never changes Allowed.
	Audit     *Policy
	AuditRule int
}
