package routing

import (
	"net/http"
	"strings"
)

// HeaderModifier is a compiled RequestHeaderModifier or ResponseHeaderModifier.
type HeaderModifier struct {
	Set    []HeaderValue
	Add    []HeaderValue
	Remove []string
}

// HeaderValue is one header name (canonical form) and value.
type HeaderValue struct{ Name, Value string }

// Apply modifies h in place: set, then add, then remove (names never overlap;
// the compiler rejects filters that name a header twice).
func (m *HeaderModifier) Apply(h http.Header) {
	if m == nil {
		return
	}
	for _, hv := range m.Set {
		h[hv.Name] = []string{hv.Value}
	}
	for _, hv := range m.Add {
		h[hv.Name] = append(h[hv.Name], hv.Value)
	}
	for _, n := range m.Remove {
		delete(h, n)
	}
}

// PathModifier is a compiled HTTPPathModifier.
type PathModifier struct {
	FullPath *string
	Prefix   *string
}

// apply returns the new path given the request path and the matched prefix.
func (p *PathModifier) apply(path, matchedPrefix string) string {
	switch {
	case p == nil:
		return path
	case p.FullPath != nil:
		return *p.FullPath
	case p.Prefix != nil:
		return replacePrefix(path, matchedPrefix, *p.Prefix)
	}
	return path
}

// replacePrefix follows the ReplacePrefixMatch table of the HTTPPathModifier
// spec: trailing slashes of both prefix and replacement are ignored, and an
// empty result becomes "/".
func replacePrefix(path, prefix, repl string) string {
	p := strings.TrimSuffix(prefix, "/")
	rest := path
	if strings.HasPrefix(path, p) {
		rest = path[len(p):]
	}
	out := strings.TrimSuffix(repl, "/") + rest
	if out == "" {
		return "/"
	}
	if out[0] != '/' {
		out = "/" + out
	}
	return out
}

// Rewrite is a compiled URLRewrite filter.
type Rewrite struct {
	Hostname string
	Path     *PathModifier
}

// Apply returns the rewritten path and host.
func (rw *Rewrite) Apply(path, host, matchedPrefix string) (string, string) {
	if rw == nil {
		return path, host
	}
	if rw.Hostname != "" {
		host = rw.Hostname
	}
	return rw.Path.apply(path, matchedPrefix), host
}

// Redirect is a compiled RequestRedirect filter.
type Redirect struct {
	Scheme     string
	Hostname   string
	Port       int32
	Path       *PathModifier
	StatusCode int
}

// Location builds the Location header. listenerPort is the destination port
// the request arrived on; scheme is the request's scheme.
func (rd *Redirect) Location(r *Request, path, matchedPrefix string, listenerPort int32) string {
	scheme := "http"
	if r.TLS {
		scheme = "https"
	}
	port := listenerPort
	if rd.Scheme != "" {
		scheme = rd.Scheme
		// Spec: with a scheme and no port, use the scheme's well-known port.
		switch scheme {
		case "http":
			port = 80
		case "https":
			port = 443
		}
	}
	if rd.Port != 0 {
		port = rd.Port
	}
	host := stripPort(r.Host)
	if rd.Hostname != "" {
		host = rd.Hostname
	}
	if !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) {
		host = host + ":" + itoa(int(port))
	}
	// path is already escaped; build the string rather than re-escape via url.URL.
	loc := scheme + "://" + host + rd.Path.apply(path, matchedPrefix)
	if r.RawQuery != "" {
		loc += "?" + r.RawQuery
	}
	return loc
}
