package authz

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// Policy is one compiled AuthorizationPolicy. It is immutable.
type Policy struct {
	Namespace, Name string
	// Key is "namespace/name", for logs and metric labels.
	Key    string
	Action meshv1alpha1.AuthorizationAction
	// Generation of the object that was compiled.
	Generation int64
	// Err is why the policy did not compile. An ALLOW or DENY policy with
	// an error denies everything it selects; an AUDIT policy is inert.
	Err error
	// L7 reports HTTP fields (hosts, methods, paths, request.headers), which
	// only a waypoint can evaluate.
	L7 bool
	// Targets are the spec's targetRefs; empty for selector and
	// namespace-wide policies.
	Targets []meshv1alpha1.PolicyTargetReference

	selector labels.Selector // nil: every pod of its namespace (or mesh)
	rules    []rule
}

// Options configure Compile.
type Options struct {
	// RootNamespace holds mesh-wide policies: one without targetRefs there
	// applies to pods of every namespace (the operator's namespace).
	RootNamespace string
}

// Compile compiles policies into a Set. It never fails: a policy that does
// not compile is kept with Err set and fails closed. Nil entries are ignored.
func Compile(policies []*meshv1alpha1.AuthorizationPolicy, opts Options) *Set {
	s := &Set{opts: opts, byTarget: map[targetKey][]*Policy{}}
	for _, in := range policies {
		if in == nil {
			continue
		}
		s.policies = append(s.policies, CompilePolicy(in))
	}
	slices.SortFunc(s.policies, func(a, b *Policy) int { return strings.Compare(a.Key, b.Key) })
	for _, p := range s.policies {
		if len(p.Targets) == 0 {
			s.workload = append(s.workload, p)
			continue
		}
		for _, t := range p.Targets {
			if t.Namespace != "" && t.Namespace != p.Namespace {
				continue // the controller reports it; a policy reaches only its own namespace
			}
			k := targetKey{namespace: p.Namespace, group: t.Group, kind: t.Kind, name: t.Name}
			if k.group == "core" {
				k.group = ""
			}
			if !slices.Contains(s.byTarget[k], p) {
				s.byTarget[k] = append(s.byTarget[k], p)
			}
		}
	}
	return s
}

// CompilePolicy compiles one policy (Compile does it for every policy).
func CompilePolicy(in *meshv1alpha1.AuthorizationPolicy) *Policy {
	p := &Policy{
		Namespace: in.Namespace, Name: in.Name, Key: in.Namespace + "/" + in.Name,
		Action: in.Spec.Action, Generation: in.Generation, Targets: in.Spec.TargetRefs,
	}
	if p.Action == "" {
		p.Action = meshv1alpha1.ActionAllow
	}
	p.Err = p.compile(&in.Spec)
	if p.Err != nil {
		p.rules = nil
	}
	return p
}

func (p *Policy) compile(spec *meshv1alpha1.AuthorizationPolicySpec) error {
	switch p.Action {
	case meshv1alpha1.ActionAllow, meshv1alpha1.ActionDeny, meshv1alpha1.ActionAudit:
	default:
		return fmt.Errorf("action %q is not supported: use ALLOW, DENY or AUDIT", p.Action)
	}
	if spec.Selector != nil && len(spec.TargetRefs) > 0 {
		return errors.New("set either selector or targetRefs, not both")
	}
	if spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
		if err != nil {
			return fmt.Errorf("selector: %w", err)
		}
		p.selector = sel
	}
	for i := range spec.Rules {
		r, err := p.compileRule(&spec.Rules[i])
		if err != nil {
			return fmt.Errorf("rules[%d].%w", i, err)
		}
		p.rules = append(p.rules, r)
	}
	return nil
}

func (p *Policy) compileRule(in *meshv1alpha1.AuthorizationRule) (rule, error) {
	var r rule
	for i := range in.From {
		s, err := compileSource(&in.From[i].Source)
		if err != nil {
			return r, fmt.Errorf("from[%d].source.%w", i, err)
		}
		r.from = append(r.from, s)
	}
	for i := range in.To {
		o, err := compileOperation(&in.To[i].Operation)
		if err != nil {
			return r, fmt.Errorf("to[%d].operation.%w", i, err)
		}
		p.L7 = p.L7 || o.l7
		r.to = append(r.to, o)
	}
	for i := range in.When {
		c, err := compileCondition(&in.When[i])
		if err != nil {
			return r, fmt.Errorf("when[%d].%w", i, err)
		}
		p.L7 = p.L7 || c.l7
		r.when = append(r.when, c)
	}
	return r, nil
}

func compileSource(in *meshv1alpha1.Source) (source, error) {
	var s source
	var err error
	switch {
	case len(in.RequestPrincipals) > 0 || len(in.NotRequestPrincipals) > 0:
		return s, errors.New("requestPrincipals: JWT authentication is not supported")
	case len(in.RemoteIPBlocks) > 0 || len(in.NotRemoteIPBlocks) > 0:
		return s, errors.New("remoteIpBlocks: not supported; use ipBlocks")
	}
	if s.principals, err = compileList("principals", in.Principals, compilePrincipal); err != nil {
		return s, err
	}
	if s.notPrincipals, err = compileList("notPrincipals", in.NotPrincipals, compilePrincipal); err != nil {
		return s, err
	}
	if s.serviceAccounts, err = compileList("serviceAccounts", in.ServiceAccounts, compileServiceAccount); err != nil {
		return s, err
	}
	if s.notServiceAccounts, err = compileList("notServiceAccounts", in.NotServiceAccounts, compileServiceAccount); err != nil {
		return s, err
	}
	if s.namespaces, err = compileList("namespaces", in.Namespaces, exactCase); err != nil {
		return s, err
	}
	if s.notNamespaces, err = compileList("notNamespaces", in.NotNamespaces, exactCase); err != nil {
		return s, err
	}
	if s.ipBlocks, err = compileList("ipBlocks", in.IPBlocks, compileIPBlock); err != nil {
		return s, err
	}
	if s.notIPBlocks, err = compileList("notIpBlocks", in.NotIPBlocks, compileIPBlock); err != nil {
		return s, err
	}
	if s.principals == nil && s.notPrincipals == nil && s.serviceAccounts == nil && s.notServiceAccounts == nil &&
		s.namespaces == nil && s.notNamespaces == nil && s.ipBlocks == nil && s.notIPBlocks == nil {
		return s, errors.New("principals: a source must set at least one field")
	}
	return s, nil
}

func compileOperation(in *meshv1alpha1.Operation) (operation, error) {
	var o operation
	var err error
	if o.ports, err = compileList("ports", in.Ports, compilePort); err != nil {
		return o, err
	}
	if o.notPorts, err = compileList("notPorts", in.NotPorts, compilePort); err != nil {
		return o, err
	}
	if o.hosts, err = compileList("hosts", in.Hosts, foldCase); err != nil {
		return o, err
	}
	if o.notHosts, err = compileList("notHosts", in.NotHosts, foldCase); err != nil {
		return o, err
	}
	if o.methods, err = compileList("methods", in.Methods, exactCase); err != nil {
		return o, err
	}
	if o.notMethods, err = compileList("notMethods", in.NotMethods, exactCase); err != nil {
		return o, err
	}
	if o.paths, err = compileList("paths", in.Paths, compilePath); err != nil {
		return o, err
	}
	if o.notPaths, err = compileList("notPaths", in.NotPaths, compilePath); err != nil {
		return o, err
	}
	o.l7 = o.hosts != nil || o.notHosts != nil || o.methods != nil || o.notMethods != nil || o.paths != nil || o.notPaths != nil
	if !o.l7 && o.ports == nil && o.notPorts == nil {
		return o, errors.New("ports: an operation must set at least one field")
	}
	return o, nil
}

var headerKey = regexp.MustCompile(`^request\.headers\[([^\[\]]+)\]$`)

func compileCondition(in *meshv1alpha1.RuleCondition) (condition, error) {
	c := condition{hasIn: len(in.Values) > 0, hasOut: len(in.NotValues) > 0}
	if !c.hasIn && !c.hasOut {
		return c, fmt.Errorf("values: %s needs values or notValues", in.Key)
	}
	var err error
	switch in.Key {
	case "source.ip", "destination.ip":
		c.key = keySourceIP
		if in.Key == "destination.ip" {
			c.key = keyDestinationIP
		}
		if c.inIP, err = compileList("values", in.Values, compileIPBlock); err != nil {
			return c, err
		}
		c.outIP, err = compileList("notValues", in.NotValues, compileIPBlock)
	case "destination.port":
		c.key = keyDestinationPort
		if c.inPort, err = compileList("values", in.Values, compilePort); err != nil {
			return c, err
		}
		c.outPort, err = compileList("notValues", in.NotValues, compilePort)
	case "source.principal":
		c.key = keySourcePrincipal
		if c.inPrin, err = compileList("values", in.Values, compilePrincipal); err != nil {
			return c, err
		}
		c.outPrin, err = compileList("notValues", in.NotValues, compilePrincipal)
	case "source.namespace":
		c.key = keySourceNamespace
		if c.in, err = compileList("values", in.Values, exactCase); err != nil {
			return c, err
		}
		c.out, err = compileList("notValues", in.NotValues, exactCase)
	default:
		m := headerKey.FindStringSubmatch(in.Key)
		if m == nil {
			return c, fmt.Errorf("key: %q is not supported: use request.headers[<name>], source.ip, source.namespace, source.principal, destination.ip or destination.port", in.Key)
		}
		c.key, c.header, c.l7 = keyHeader, canonicalHeader(m[1]), true
		if c.in, err = compileList("values", in.Values, exactCase); err != nil {
			return c, err
		}
		c.out, err = compileList("notValues", in.NotValues, exactCase)
	}
	return c, err
}

// compileList compiles every value; an empty list yields nil ("not set").
func compileList[S ~string, T any](field string, vals []S, f func(string) (T, error)) ([]T, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make([]T, 0, len(vals))
	for i, v := range vals {
		t, err := f(string(v))
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func exactCase(v string) (pattern, error) { return compilePattern(v, false) }
func foldCase(v string) (pattern, error)  { return compilePattern(v, true) }

func compilePath(v string) (pattern, error) {
	if strings.ContainsAny(v, "{}") {
		return pattern{}, fmt.Errorf("%q: path templates are not supported", v)
	}
	if !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "*") {
		return pattern{}, fmt.Errorf("%q: a path starts with /", v)
	}
	return compilePattern(v, false)
}

func compileIPBlock(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", v)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func compilePort(v string) (uint16, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number from 1 to 65535", v)
	}
	return uint16(n), nil
}
