package routing

import (
	"fmt"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func compileFilters(ix *index, from referrer, fs []gwv1.HTTPRouteFilter, rule *Rule, ms []*matcher) error {
	for k := range fs {
		f := &fs[k]
		var err error
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			if rule.RequestHeaders != nil {
				return fmt.Errorf("filters[%d]: RequestHeaderModifier specified twice", k)
			}
			rule.RequestHeaders, err = headerModifier(f.RequestHeaderModifier)
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			if rule.ResponseHeaders != nil {
				return fmt.Errorf("filters[%d]: ResponseHeaderModifier specified twice", k)
			}
			rule.ResponseHeaders, err = headerModifier(f.ResponseHeaderModifier)
		case gwv1.HTTPRouteFilterRequestRedirect:
			if rule.Redirect != nil {
				return fmt.Errorf("filters[%d]: RequestRedirect specified twice", k)
			}
			rule.Redirect, err = redirect(f.RequestRedirect, ms)
		case gwv1.HTTPRouteFilterURLRewrite:
			if rule.Rewrite != nil {
				return fmt.Errorf("filters[%d]: URLRewrite specified twice", k)
			}
			rule.Rewrite, err = rewrite(f.URLRewrite, ms)
		case gwv1.HTTPRouteFilterRequestMirror:
			var mi Mirror
			mi, err = mirror(ix, from, f.RequestMirror)
			if err == nil && mi.Backend.Invalid == "" {
				// Spec: an unresolvable mirror backend is dropped, not fatal.
				rule.Mirrors = append(rule.Mirrors, mi)
			}
		case gwv1.HTTPRouteFilterCORS:
			if rule.CORS != nil {
				return fmt.Errorf("filters[%d]: CORS specified twice", k)
			}
			rule.CORS, err = compileCORS(f.CORS)
		default:
			return fmt.Errorf("filters[%d]: unsupported filter type %q", k, f.Type)
		}
		if err != nil {
			return fmt.Errorf("filters[%d] %s: %w", k, f.Type, err)
		}
	}
	if rule.Redirect != nil && rule.Rewrite != nil {
		return fmt.Errorf("RequestRedirect and URLRewrite cannot be combined (IncompatibleFilters)")
	}
	return nil
}

// backendFilters supports header modifiers on a backendRef; anything else
// makes the rule invalid rather than silently ignored.
func backendFilters(fs []gwv1.HTTPRouteFilter, wb *WeightedBackend) error {
	for k := range fs {
		f := &fs[k]
		var err error
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			wb.RequestHeaders, err = headerModifier(f.RequestHeaderModifier)
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			wb.ResponseHeaders, err = headerModifier(f.ResponseHeaderModifier)
		default:
			return fmt.Errorf("filters[%d]: filter type %q not supported on a backendRef", k, f.Type)
		}
		if err != nil {
			return fmt.Errorf("filters[%d]: %w", k, err)
		}
	}
	return nil
}

func headerModifier(f *gwv1.HTTPHeaderFilter) (*HeaderModifier, error) {
	if f == nil {
		return nil, fmt.Errorf("configuration missing")
	}
	m := &HeaderModifier{}
	seen := map[string]bool{}
	claim := func(n string) (string, error) {
		c := textproto.CanonicalMIMEHeaderKey(n)
		if n == "" || strings.ContainsAny(n, " :\t\r\n") {
			return "", fmt.Errorf("invalid header name %q", n)
		}
		if seen[c] {
			return "", fmt.Errorf("header %q named by more than one action", n)
		}
		seen[c] = true
		return c, nil
	}
	for _, h := range f.Set {
		n, err := claim(string(h.Name))
		if err != nil {
			return nil, err
		}
		m.Set = append(m.Set, HeaderValue{n, h.Value})
	}
	for _, h := range f.Add {
		n, err := claim(string(h.Name))
		if err != nil {
			return nil, err
		}
		m.Add = append(m.Add, HeaderValue{n, h.Value})
	}
	for _, h := range f.Remove {
		n, err := claim(h)
		if err != nil {
			return nil, err
		}
		m.Remove = append(m.Remove, n)
	}
	return m, nil
}

func pathModifier(p *gwv1.HTTPPathModifier, ms []*matcher) (*PathModifier, error) {
	if p == nil {
		return nil, nil
	}
	switch p.Type {
	case gwv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath == nil {
			return nil, fmt.Errorf("replaceFullPath missing")
		}
		return &PathModifier{FullPath: p.ReplaceFullPath}, nil
	case gwv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch == nil {
			return nil, fmt.Errorf("replacePrefixMatch missing")
		}
		for _, m := range ms {
			if m.kind != pathPrefix {
				return nil, fmt.Errorf("ReplacePrefixMatch requires PathPrefix matches only")
			}
		}
		return &PathModifier{Prefix: p.ReplacePrefixMatch}, nil
	}
	return nil, fmt.Errorf("unsupported path modifier type %q", p.Type)
}

func redirect(f *gwv1.HTTPRequestRedirectFilter, ms []*matcher) (*Redirect, error) {
	if f == nil {
		return nil, fmt.Errorf("configuration missing")
	}
	rd := &Redirect{StatusCode: 302}
	if f.Scheme != nil {
		if *f.Scheme != "http" && *f.Scheme != "https" {
			return nil, fmt.Errorf("unsupported scheme %q", *f.Scheme)
		}
		rd.Scheme = *f.Scheme
	}
	if f.Hostname != nil {
		rd.Hostname = string(*f.Hostname)
	}
	if f.Port != nil {
		rd.Port = *f.Port
	}
	if f.StatusCode != nil {
		switch *f.StatusCode {
		case 301, 302, 303, 307, 308:
			rd.StatusCode = *f.StatusCode
		default:
			return nil, fmt.Errorf("unsupported status code %d", *f.StatusCode)
		}
	}
	var err error
	rd.Path, err = pathModifier(f.Path, ms)
	return rd, err
}

func rewrite(f *gwv1.HTTPURLRewriteFilter, ms []*matcher) (*Rewrite, error) {
	if f == nil {
		return nil, fmt.Errorf("configuration missing")
	}
	rw := &Rewrite{}
	if f.Hostname != nil {
		rw.Hostname = string(*f.Hostname)
	}
	var err error
	rw.Path, err = pathModifier(f.Path, ms)
	return rw, err
}

func mirror(ix *index, from referrer, f *gwv1.HTTPRequestMirrorFilter) (Mirror, error) {
	if f == nil {
		return Mirror{}, fmt.Errorf("configuration missing")
	}
	mi := Mirror{Backend: ix.resolve(from, f.BackendRef), Numerator: 100, Denominator: 100}
	switch {
	case f.Percent != nil && f.Fraction != nil:
		return mi, fmt.Errorf("only one of percent and fraction may be set")
	case f.Percent != nil:
		mi.Numerator = *f.Percent
	case f.Fraction != nil:
		mi.Numerator, mi.Denominator = f.Fraction.Numerator, 100
		if f.Fraction.Denominator != nil {
			mi.Denominator = *f.Fraction.Denominator
		}
	}
	if mi.Denominator <= 0 || mi.Numerator < 0 || mi.Numerator > mi.Denominator {
		return mi, fmt.Errorf("fraction %d/%d out of range", mi.Numerator, mi.Denominator)
	}
	return mi, nil
}

// gwDuration is the GEP-2257 duration syntax.
var gwDuration = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

func parseDuration(d *gwv1.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if !gwDuration.MatchString(string(*d)) {
		return 0, fmt.Errorf("invalid duration %q (GEP-2257)", *d)
	}
	return time.ParseDuration(string(*d))
}

func compileTimeouts(t *gwv1.HTTPRouteTimeouts, rule *Rule) error {
	if t == nil {
		return nil
	}
	var err error
	if rule.RequestTimeout, err = parseDuration(t.Request); err != nil {
		return fmt.Errorf("timeouts.request: %w", err)
	}
	if rule.BackendTimeout, err = parseDuration(t.BackendRequest); err != nil {
		return fmt.Errorf("timeouts.backendRequest: %w", err)
	}
	if rule.RequestTimeout > 0 && rule.BackendTimeout > rule.RequestTimeout {
		return fmt.Errorf("timeouts.backendRequest %s exceeds timeouts.request %s", rule.BackendTimeout, rule.RequestTimeout)
	}
	return nil
}

// Defaults when the retry stanza leaves fields unset (implementation-specific).
const (
	DefaultRetryAttempts = 2
	DefaultRetryBackoff  = 25 * time.Millisecond
)

func compileRetry(r *gwv1.HTTPRouteRetry, rule *Rule) error {
	if r == nil {
		return nil
	}
	rt := &Retry{Attempts: DefaultRetryAttempts, Backoff: DefaultRetryBackoff, Codes: map[int]bool{}}
	if r.Attempts != nil {
		if *r.Attempts < 0 || *r.Attempts > 10 {
			return fmt.Errorf("retry.attempts %d out of range 0..10", *r.Attempts)
		}
		rt.Attempts = *r.Attempts
	}
	if r.Backoff != nil {
		d, err := parseDuration(r.Backoff)
		if err != nil {
			return fmt.Errorf("retry.backoff: %w", err)
		}
		rt.Backoff = d
	}
	for _, c := range r.Codes {
		if c < 400 || c > 599 {
			return fmt.Errorf("retry.codes: %d outside 400-599", c)
		}
		rt.Codes[int(c)] = true
	}
	rule.Retry = rt
	return nil
}
