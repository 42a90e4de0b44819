package authz

import (
	"net/http"
	"net/netip"
)

// rule is one compiled spec.rules entry: from (any) and to (any) and when (all).
type rule struct {
	from []source
	to   []operation
	when []condition
}

// source is one from[].source; its fields are ANDed.
type source struct {
	principals, notPrincipals           []principal
	serviceAccounts, notServiceAccounts []serviceAccount
	namespaces, notNamespaces           []pattern
	ipBlocks, notIPBlocks               []netip.Prefix
}

// operation is one to[].operation; its fields are ANDed.
type operation struct {
	ports, notPorts     []uint16
	hosts, notHosts     []pattern
	methods, notMethods []pattern
	paths, notPaths     []pattern
	l7                  bool
}

type conditionKey uint8

const (
	keyHeader conditionKey = iota
	keySourceIP
	keySourceNamespace
	keySourcePrincipal
	keyDestinationIP
	keyDestinationPort
)

// condition is one when[] entry.
type condition struct {
	key    conditionKey
	header string // canonical name, for keyHeader
	// Per key, one of these holds the values (in) and notValues (out).
	in, out           []pattern
	inIP, outIP       []netip.Prefix
	inPort, outPort   []uint16
	inPrin, outPrin   []principal
	hasIn, hasOut, l7 bool
}

// httpView is what an L7 evaluation adds: the normalised path is computed
// once per request, not per rule.
type httpView struct {
	r    *L7Request
	path string
}

// matches evaluates the rule. h is nil at L4: HTTP leaves then evaluate to
// l4HTTP, which is true for DENY and false otherwise, so a rule the L4 view
// cannot fully see matches more for DENY and less for ALLOW (fail closed).
func (ru *rule) matches(r *L4Request, h *httpView, l4HTTP bool) bool {
	if len(ru.from) > 0 {
		ok := false
		for i := range ru.from {
			if ru.from[i].matches(r) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(ru.to) > 0 {
		ok := false
		for i := range ru.to {
			if ru.to[i].matches(r, h, l4HTTP) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range ru.when {
		if !ru.when[i].matches(r, h, l4HTTP) {
			return false
		}
	}
	return true
}

// Source fields see every peer of the request (the direct peer and, through
// a waypoint, the original client): a field matches if any peer does, its
// not-form only if none does.
func (s *source) matches(r *L4Request) bool {
	if s.principals != nil && !peerPrincipal(r, s.principals) {
		return false
	}
	if s.notPrincipals != nil && peerPrincipal(r, s.notPrincipals) {
		return false
	}
	if s.serviceAccounts != nil && !peerServiceAccount(r, s.serviceAccounts) {
		return false
	}
	if s.notServiceAccounts != nil && peerServiceAccount(r, s.notServiceAccounts) {
		return false
	}
	if s.namespaces != nil && !peerNamespace(r, s.namespaces) {
		return false
	}
	if s.notNamespaces != nil && peerNamespace(r, s.notNamespaces) {
		return false
	}
	if s.ipBlocks != nil && !peerIP(r, s.ipBlocks) {
		return false
	}
	if s.notIPBlocks != nil && peerIP(r, s.notIPBlocks) {
		return false
	}
	return true
}

func peerPrincipal(r *L4Request, ps []principal) bool {
	return (!r.Source.Identity.IsZero() && anyPrincipal(ps, &r.Source.Identity)) ||
		(!r.Origin.Identity.IsZero() && anyPrincipal(ps, &r.Origin.Identity))
}

func peerServiceAccount(r *L4Request, sas []serviceAccount) bool {
	return (!r.Source.Identity.IsZero() && anyServiceAccount(sas, &r.Source.Identity)) ||
		(!r.Origin.Identity.IsZero() && anyServiceAccount(sas, &r.Origin.Identity))
}

func peerNamespace(r *L4Request, ps []pattern) bool {
	return (!r.Source.Identity.IsZero() && anyPattern(ps, r.Source.Identity.Namespace)) ||
		(!r.Origin.Identity.IsZero() && anyPattern(ps, r.Origin.Identity.Namespace))
}

func peerIP(r *L4Request, blocks []netip.Prefix) bool {
	return inBlocks(blocks, r.Source.IP) || inBlocks(blocks, r.Origin.IP)
}

func inBlocks(blocks []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, b := range blocks {
		if b.Contains(ip) {
			return true
		}
	}
	return false
}

func hasPort(ports []uint16, p uint16) bool {
	for _, x := range ports {
		if x == p {
			return true
		}
	}
	return false
}

func (o *operation) matches(r *L4Request, h *httpView, l4HTTP bool) bool {
	port := r.Destination.Port()
	if o.ports != nil && !hasPort(o.ports, port) {
		return false
	}
	if o.notPorts != nil && hasPort(o.notPorts, port) {
		return false
	}
	if !o.l7 {
		return true
	}
	if h == nil {
		return l4HTTP
	}
	return matchIn(o.hosts, o.notHosts, h.r.Host) &&
		matchIn(o.methods, o.notMethods, h.r.Method) &&
		matchIn(o.paths, o.notPaths, h.path)
}

// matchIn: v matches one of in (when in is set) and none of out.
func matchIn(in, out []pattern, v string) bool {
	if in != nil && !anyPattern(in, v) {
		return false
	}
	return out == nil || !anyPattern(out, v)
}

func (c *condition) matches(r *L4Request, h *httpView, l4HTTP bool) bool {
	switch c.key {
	case keyHeader:
		if h == nil {
			return l4HTTP
		}
		return c.matchHeader(h)
	case keySourceIP:
		return (!c.hasIn || peerIP(r, c.inIP)) && (!c.hasOut || !peerIP(r, c.outIP))
	case keySourceNamespace:
		return (!c.hasIn || peerNamespace(r, c.in)) && (!c.hasOut || !peerNamespace(r, c.out))
	case keySourcePrincipal:
		return (!c.hasIn || peerPrincipal(r, c.inPrin)) && (!c.hasOut || !peerPrincipal(r, c.outPrin))
	case keyDestinationIP:
		ip := r.Destination.Addr()
		return (!c.hasIn || inBlocks(c.inIP, ip)) && (!c.hasOut || !inBlocks(c.outIP, ip))
	case keyDestinationPort:
		p := r.Destination.Port()
		return (!c.hasIn || hasPort(c.inPort, p)) && (!c.hasOut || !hasPort(c.outPort, p))
	}
	return false
}

// matchHeader matches the header's values joined with "," (as Envoy does);
// a missing header matches only notValues.
func (c *condition) matchHeader(h *httpView) bool {
	var j joined
	present := true
	switch c.header {
	case "Host", ":authority":
		j.one = h.r.Host
	case ":method":
		j.one = h.r.Method
	case ":path":
		j.one = h.path
	default:
		vals := h.r.Header[c.header]
		switch len(vals) {
		case 0:
			present = false
		case 1:
			j.one = vals[0]
		default:
			j.parts, j.sep = vals, ","
		}
	}
	if c.hasIn && (!present || !anyPatternParts(c.in, j)) {
		return false
	}
	return !c.hasOut || !present || !anyPatternParts(c.out, j)
}

// canonicalHeader maps a when key's header name to how it is looked up.
func canonicalHeader(name string) string {
	switch lower := asciiLower(name); lower {
	case ":authority", "host":
		return "Host"
	case ":method", ":path":
		return lower
	}
	return http.CanonicalHeaderKey(name)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
