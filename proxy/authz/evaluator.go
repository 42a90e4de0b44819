package authz

import meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"

// Evaluator decides for one destination, from the policies that select it.
// It is immutable and safe for concurrent use; a nil Evaluator (no policy)
// allows everything.
type Evaluator struct {
	invalid []*Policy // ALLOW or DENY policies that did not compile: deny all
	deny    []*Policy
	allow   []*Policy
	audit   []*Policy
	// needsPath: some rule matches paths, so L7 normalises the request path.
	needsPath bool
}

func newEvaluator(policies []*Policy) *Evaluator {
	if len(policies) == 0 {
		return nil
	}
	e := &Evaluator{}
	for _, p := range policies {
		switch {
		case p.Err != nil && p.Action != meshv1alpha1.ActionAudit:
			e.invalid = append(e.invalid, p)
		case p.Err != nil:
			// A broken AUDIT policy changes no decision; status reports it.
		case p.Action == meshv1alpha1.ActionDeny:
			e.deny = append(e.deny, p)
		case p.Action == meshv1alpha1.ActionAllow:
			e.allow = append(e.allow, p)
		case p.Action == meshv1alpha1.ActionAudit:
			e.audit = append(e.audit, p)
		}
		e.needsPath = e.needsPath || p.usesPath()
	}
	return e
}

// Policies lists the policies the evaluator applies (for logs and tests).
func (e *Evaluator) Policies() []*Policy {
	if e == nil {
		return nil
	}
	out := make([]*Policy, 0, len(e.invalid)+len(e.deny)+len(e.allow)+len(e.audit))
	for _, l := range [][]*Policy{e.invalid, e.deny, e.allow, e.audit} {
		out = append(out, l...)
	}
	return out
}

// L4 decides a connection: the destination ztunnel's entry point (and the
// waypoint's, for streams it passes through without parsing). HTTP fields
// cannot be seen here: a DENY rule treats them as matching and an ALLOW
// rule as not matching, so the L4 view of an HTTP policy never opens more
// than the policy would.
func (e *Evaluator) L4(r *L4Request) Decision {
	if e == nil {
		return Decision{Allowed: true, Reason: ReasonNoPolicy, Rule: -1}
	}
	return e.decide(r, nil)
}

// L7 decides one HTTP request: the waypoint's entry point.
func (e *Evaluator) L7(r *L7Request) Decision {
	if e == nil {
		return Decision{Allowed: true, Reason: ReasonNoPolicy, Rule: -1}
	}
	h := httpView{r: r}
	if e.needsPath {
		h.path = NormalizePath(r.Path)
	}
	return e.decide(&r.L4Request, &h)
}

// decide applies Istio's order: DENY (and broken policies) before ALLOW; no
// ALLOW policy means allowed; ALLOW policies that all miss mean denied.
func (e *Evaluator) decide(r *L4Request, h *httpView) Decision {
	d := Decision{Rule: -1, AuditRule: -1}
	for _, p := range e.audit {
		if i := p.match(r, h); i >= 0 {
			d.Audit, d.AuditRule = p, i
			break
		}
	}
	if len(e.invalid) > 0 {
		d.Reason, d.Policy = ReasonInvalidPolicy, e.invalid[0]
		return d
	}
	for _, p := range e.deny {
		if i := p.match(r, h); i >= 0 {
			d.Reason, d.Policy, d.Rule = ReasonDenyRule, p, i
			return d
		}
	}
	if len(e.allow) == 0 {
		d.Allowed, d.Reason = true, ReasonNoAllowPolicy
		return d
	}
	for _, p := range e.allow {
		if i := p.match(r, h); i >= 0 {
			d.Allowed, d.Reason, d.Policy, d.Rule = true, ReasonAllowRule, p, i
			return d
		}
	}
	d.Reason = ReasonNoAllowMatch
	return d
}

// match returns the index of the first matching rule, or -1.
func (p *Policy) match(r *L4Request, h *httpView) int {
	l4HTTP := p.Action == meshv1alpha1.ActionDeny
	for i := range p.rules {
		if p.rules[i].matches(r, h, l4HTTP) {
			return i
		}
	}
	return -1
}

func (p *Policy) usesPath() bool {
	for i := range p.rules {
		for j := range p.rules[i].to {
			if o := &p.rules[i].to[j]; o.paths != nil || o.notPaths != nil {
				return true
			}
		}
		for j := range p.rules[i].when {
			if p.rules[i].when[j].header == ":path" {
				return true
			}
		}
	}
	return false
}
