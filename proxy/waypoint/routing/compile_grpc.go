package routing

import (
	"cmp"
	"fmt"
	"net/textproto"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A gRPC request's :path is "/<service>/<method>" (gRPC over HTTP/2), so a
// GRPCRoute method match compiles to a path match on that form; the matcher
// keeps the lengths of service and method for GRPCRoute precedence.

// compileGRPCRoute compiles every rule of a GRPCRoute; invalid rules are
// reported and skipped.
func compileGRPCRoute(ix *index, r *gwv1.GRPCRoute, from referrer) ([]*matcher, []Skipped) {
	key := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
	var out []*matcher
	var skipped []Skipped
	for i := range r.Spec.Rules {
		rule, ms, err := compileGRPCRule(ix, r, i, from)
		if err != nil {
			skipped = append(skipped, Skipped{Route: key, Rule: i, Reason: err.Error()})
			continue
		}
		out = append(out, placeMatchers(ms, rule, r.CreationTimestamp.Time, key, i, r.Spec.Hostnames)...)
	}
	return out, skipped
}

func compileGRPCRule(ix *index, r *gwv1.GRPCRoute, i int, from referrer) (*Rule, []*matcher, error) {
	src := &r.Spec.Rules[i]
	rule := &Rule{
		Route:      types.NamespacedName{Namespace: r.Namespace, Name: r.Name},
		Index:      i,
		RouteLabel: r.Namespace + "/" + r.Name,
	}
	if src.Name != nil {
		rule.Name = string(*src.Name)
	}
	ms, err := compileGRPCMatches(src.Matches)
	if err != nil {
		return nil, nil, err
	}
	if err := grpcFilters(ix, from, src.Filters, rule); err != nil {
		return nil, nil, err
	}
	for j := range src.BackendRefs {
		br := &src.BackendRefs[j]
		wb, err := weightedBackend(ix, from, br.BackendRef)
		if err != nil {
			return nil, nil, fmt.Errorf("backendRefs[%d]: %w", j, err)
		}
		if err := backendFilters(asHTTPFilters(br.Filters), &wb); err != nil {
			return nil, nil, fmt.Errorf("backendRefs[%d]: %w", j, err)
		}
		rule.Backends = append(rule.Backends, wb)
		rule.totalWeight += int64(wb.Weight)
	}
	if src.SessionPersistence != nil {
		return nil, nil, fmt.Errorf("sessionPersistence is not supported")
	}
	return rule, ms, nil
}

// grpcFilters: the core and extended GRPCRoute filters share their
// configuration with HTTPRoute's.
func grpcFilters(ix *index, from referrer, fs []gwv1.GRPCRouteFilter, rule *Rule) error {
	for k := range fs {
		switch fs[k].Type {
		case gwv1.GRPCRouteFilterRequestHeaderModifier, gwv1.GRPCRouteFilterResponseHeaderModifier, gwv1.GRPCRouteFilterRequestMirror:
		default:
			return fmt.Errorf("filters[%d]: unsupported filter type %q", k, fs[k].Type)
		}
	}
	return compileFilters(ix, from, asHTTPFilters(fs), rule, nil)
}

func asHTTPFilters(fs []gwv1.GRPCRouteFilter) []gwv1.HTTPRouteFilter {
	out := make([]gwv1.HTTPRouteFilter, len(fs))
	for i, f := range fs {
		out[i] = gwv1.HTTPRouteFilter{
			Type:                   gwv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		}
	}
	return out
}

func compileGRPCMatches(src []gwv1.GRPCRouteMatch) ([]*matcher, error) {
	return compileEachMatch(src, compileGRPCMatch)
}

// grpcName is what Exact service and method values may hold: a non-empty
// name without "/" (the spec's syntax rule for Exact).
var grpcName = regexp.MustCompile(`^[^/\s]+$`)

func compileGRPCMatch(src *gwv1.GRPCRouteMatch) (*matcher, error) {
	m := &matcher{kind: pathPrefix, path: "/"}
	if mm := src.Method; mm != nil {
		svc, method := ptrStr(mm.Service), ptrStr(mm.Method)
		if svc == "" && method == "" {
			return nil, fmt.Errorf("method match needs a service or a method")
		}
		m.grpcService, m.grpcMethod = len(svc), len(method)
		typ := gwv1.GRPCMethodMatchExact
		if mm.Type != nil {
			typ = *mm.Type
		}
		switch typ {
		case gwv1.GRPCMethodMatchExact:
			for _, v := range []string{svc, method} {
				if v != "" && !grpcName.MatchString(v) {
					return nil, fmt.Errorf("method match: %q is not a gRPC service or method name (no /)", v)
				}
			}
			switch {
			case method == "":
				m.kind, m.path = pathPrefix, "/"+svc
			case svc == "":
				re, err := regexp.Compile(`^/[^/]+/` + regexp.QuoteMeta(method) + `$`)
				if err != nil { // invalid UTF-8, which no request path can hold
					return nil, fmt.Errorf("method match: %q is not a gRPC method name", method)
				}
				m.kind, m.pathRE = pathRegex, re
			default:
				m.kind, m.path = pathExact, "/"+svc+"/"+method
			}
		case gwv1.GRPCMethodMatchRegularExpression:
			if svc == "" {
				svc = `[^/]+`
			}
			if method == "" {
				method = `[^/]+`
			}
			re, err := compileRegex(`/(?:` + svc + `)/(?:` + method + `)`)
			if err != nil {
				return nil, fmt.Errorf("method regex: %w", err)
			}
			m.kind, m.pathRE = pathRegex, re
		default:
			return nil, fmt.Errorf("unsupported method match type %q", typ)
		}
	}
	seen := map[string]bool{}
	for _, h := range src.Headers {
		name := textproto.CanonicalMIMEHeaderKey(string(h.Name))
		if seen[name] { // spec: only the first entry of an equivalent name counts
			continue
		}
		seen[name] = true
		var typ *gwv1.HeaderMatchType
		if h.Type != nil {
			t := gwv1.HeaderMatchType(*h.Type)
			typ = &t
		}
		vm, err := valueMatcher(name, h.Value, typ, "header")
		if err != nil {
			return nil, err
		}
		m.headers = append(m.headers, vm)
	}
	return m, nil
}

// sortGRPCMatchers orders GRPCRoute matchers by the spec's precedence: the
// most characters in a matching non-wildcard hostname, then in a matching
// hostname, then in the service, then in the method, then the most header
// matches; ties as for HTTPRoutes.
func sortGRPCMatchers(ms []*matcher) {
	slices.SortStableFunc(ms, func(a, b *matcher) int {
		return cmp.Or(
			cmp.Compare(b.hostRank, a.hostRank),
			cmp.Compare(b.grpcService, a.grpcService),
			cmp.Compare(b.grpcMethod, a.grpcMethod),
			cmp.Compare(len(b.headers), len(a.headers)),
			tieBreak(a, b),
		)
	})
}

// IsGRPC reports whether a request is gRPC (content-type application/grpc
// or application/grpc+<codec>), whose errors must be gRPC statuses.
func IsGRPC(contentType string) bool {
	return contentType == "application/grpc" || strings.HasPrefix(contentType, "application/grpc+") ||
		strings.HasPrefix(contentType, "application/grpc;")
}
