package authz

import (
	"fmt"
	"strings"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// principal matches a peer identity written as Istio does
// ("<td>/ns/<ns>/sa/<sa>"), as a full SPIFFE ID, or without a trust
// domain ("ns/<ns>/sa/<sa>", any trust domain).
type principal struct {
	p pattern
	// anyTrustDomain: the pattern is matched against "ns/<ns>/sa/<sa>".
	anyTrustDomain bool
}

func compilePrincipal(v string) (principal, error) {
	v = strings.TrimPrefix(v, "spiffe://")
	p, err := compilePattern(v, false)
	if err != nil {
		return principal{}, err
	}
	// "ns/x/sa/y" has four segments; Istio's "<td>/ns/x/sa/y" has five. A
	// trust domain literally named "ns" must be written with spiffe://.
	tdless := strings.HasPrefix(v, "ns/") && strings.Count(v, "/") < 4
	return principal{p: p, anyTrustDomain: tdless}, nil
}

// matches reports whether id (which must not be zero) matches.
func (pr *principal) matches(id *identity.ID) bool {
	if pr.anyTrustDomain {
		parts := [4]string{"ns/", id.Namespace, "/sa/", id.ServiceAccount}
		return pr.p.matchParts(joined{parts: parts[:]})
	}
	parts := [5]string{id.TrustDomain, "/ns/", id.Namespace, "/sa/", id.ServiceAccount}
	return pr.p.matchParts(joined{parts: parts[:]})
}

func anyPrincipal(ps []principal, id *identity.ID) bool {
	for i := range ps {
		if ps[i].matches(id) {
			return true
		}
	}
	return false
}

// serviceAccount is an exact "<namespace>/<service-account>".
type serviceAccount struct{ namespace, name string }

func compileServiceAccount(v string) (serviceAccount, error) {
	ns, sa, ok := strings.Cut(v, "/")
	if !ok || ns == "" || sa == "" || strings.Contains(sa, "/") {
		return serviceAccount{}, fmt.Errorf("%q: want <namespace>/<service-account>", v)
	}
	return serviceAccount{namespace: ns, name: sa}, nil
}

func anyServiceAccount(sas []serviceAccount, id *identity.ID) bool {
	for i := range sas {
		if sas[i].namespace == id.Namespace && sas[i].name == id.ServiceAccount {
			return true
		}
	}
	return false
}
