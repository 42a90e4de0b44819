package routing

import (
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// maxRegexLen bounds user-supplied patterns (RE2 is linear-time, but a huge
// program still costs memory per table).
const maxRegexLen = 1024

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true,
	http.MethodTrace: true, http.MethodPatch: true,
}

func compileMatches(src []gwv1.HTTPRouteMatch) ([]*matcher, error) {
	return compileEachMatch(src, compileMatch)
}

// compileEachMatch compiles a route rule's matches (HTTPRoute or
// GRPCRoute), numbered in order. Spec, both kinds: no matches means every
// request (a prefix match on "/").
func compileEachMatch[T any](src []T, compile func(*T) (*matcher, error)) ([]*matcher, error) {
	if len(src) == 0 {
		return []*matcher{{kind: pathPrefix, path: "/"}}, nil
	}
	out := make([]*matcher, 0, len(src))
	for j := range src {
		m, err := compile(&src[j])
		if err != nil {
			return nil, fmt.Errorf("matches[%d]: %w", j, err)
		}
		m.matchIdx = j
		out = append(out, m)
	}
	return out, nil
}

func compileMatch(src *gwv1.HTTPRouteMatch) (*matcher, error) {
	m := &matcher{kind: pathPrefix, path: "/"}
	if p := src.Path; p != nil {
		typ := gwv1.PathMatchPathPrefix
		if p.Type != nil {
			typ = *p.Type
		}
		if p.Value != nil {
			m.path = *p.Value
		}
		switch typ {
		case gwv1.PathMatchExact, gwv1.PathMatchPathPrefix:
			if !strings.HasPrefix(m.path, "/") || strings.Contains(m.path, "//") {
				return nil, fmt.Errorf("path %q must start with / and not contain //", m.path)
			}
			m.kind = pathPrefix
			if typ == gwv1.PathMatchExact {
				m.kind = pathExact
			}
		case gwv1.PathMatchRegularExpression:
			re, err := compileRegex(m.path)
			if err != nil {
				return nil, fmt.Errorf("path regex: %w", err)
			}
			m.kind, m.pathRE = pathRegex, re
		default:
			return nil, fmt.Errorf("unsupported path match type %q", typ)
		}
	}
	if src.Method != nil {
		if !knownMethods[string(*src.Method)] {
			return nil, fmt.Errorf("unsupported method %q", *src.Method)
		}
		m.method = string(*src.Method)
	}
	seen := map[string]bool{}
	for _, h := range src.Headers {
		name := textproto.CanonicalMIMEHeaderKey(string(h.Name))
		if seen[name] { // spec: only the first entry of an equivalent name counts
			continue
		}
		seen[name] = true
		vm, err := valueMatcher(name, h.Value, h.Type, "header")
		if err != nil {
			return nil, err
		}
		m.headers = append(m.headers, vm)
	}
	seenQ := map[string]bool{}
	for _, q := range src.QueryParams {
		name := string(q.Name)
		if seenQ[name] {
			continue
		}
		seenQ[name] = true
		var typ *gwv1.HeaderMatchType
		if q.Type != nil {
			t := gwv1.HeaderMatchType(*q.Type)
			typ = &t
		}
		vm, err := valueMatcher(name, q.Value, typ, "query param")
		if err != nil {
			return nil, err
		}
		m.query = append(m.query, vm)
	}
	return m, nil
}

func valueMatcher(name, value string, typ *gwv1.HeaderMatchType, what string) (valueMatch, error) {
	vm := valueMatch{name: name, value: value}
	if typ == nil || *typ == gwv1.HeaderMatchExact {
		return vm, nil
	}
	if *typ != gwv1.HeaderMatchRegularExpression {
		return vm, fmt.Errorf("%s %q: unsupported match type %q", what, name, *typ)
	}
	re, err := compileRegex(value)
	if err != nil {
		return vm, fmt.Errorf("%s %q regex: %w", what, name, err)
	}
	vm.re = re
	return vm, nil
}

// compileRegex compiles an RE2 pattern that must match the whole value.
func compileRegex(p string) (*regexp.Regexp, error) {
	if len(p) > maxRegexLen {
		return nil, fmt.Errorf("longer than %d bytes", maxRegexLen)
	}
	return regexp.Compile("^(?:" + p + ")$")
}
