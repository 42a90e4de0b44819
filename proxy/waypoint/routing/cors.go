package routing

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// CORS is a compiled HTTPRoute CORS filter (HTTPCORSFilter, Gateway API
// v1.6; the Fetch standard for the protocol). The waypoint answers
// preflight requests itself and adds the CORS headers to actual responses
// when the request's Origin is allowed; for other origins it adds nothing,
// so the browser refuses the cross-origin response.
type CORS struct {
	anyOrigin   bool
	origins     []originPattern
	credentials bool
	methods     []string
	anyMethod   bool
	headers     []string
	anyHeader   bool
	expose      []string
	anyExpose   bool
	maxAge      string
}

// originPattern is one allowOrigins entry: scheme, host (which may hold
// `*` wildcards, greedy to the left across labels) and port.
type originPattern struct {
	scheme string
	host   *regexp.Regexp
	port   string
}

// Response header names of the CORS protocol.
const (
	hdrAllowOrigin      = "Access-Control-Allow-Origin"
	hdrAllowCredentials = "Access-Control-Allow-Credentials"
	hdrAllowMethods     = "Access-Control-Allow-Methods"
	hdrAllowHeaders     = "Access-Control-Allow-Headers"
	hdrExposeHeaders    = "Access-Control-Expose-Headers"
	hdrMaxAge           = "Access-Control-Max-Age"
	hdrRequestMethod    = "Access-Control-Request-Method"
	hdrRequestHeaders   = "Access-Control-Request-Headers"
)

// defaultCORSMaxAge is the spec's default for maxAge (seconds).
const defaultCORSMaxAge = 5

func compileCORS(f *gwv1.HTTPCORSFilter) (*CORS, error) {
	if f == nil {
		return nil, fmt.Errorf("configuration missing")
	}
	c := &CORS{credentials: f.AllowCredentials != nil && *f.AllowCredentials, maxAge: strconv.Itoa(defaultCORSMaxAge)}
	if f.MaxAge > 0 {
		c.maxAge = strconv.Itoa(int(f.MaxAge))
	}
	for _, o := range f.AllowOrigins {
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		p, err := parseOriginPattern(string(o))
		if err != nil {
			return nil, err
		}
		c.origins = append(c.origins, p)
	}
	for _, m := range f.AllowMethods {
		if m == "*" {
			c.anyMethod = true
			continue
		}
		c.methods = append(c.methods, string(m))
	}
	var err error
	if c.headers, c.anyHeader, err = headerList(f.AllowHeaders, "allowHeaders"); err != nil {
		return nil, err
	}
	if c.expose, c.anyExpose, err = headerList(f.ExposeHeaders, "exposeHeaders"); err != nil {
		return nil, err
	}
	return c, nil
}

func headerList(names []gwv1.HTTPHeaderName, field string) ([]string, bool, error) {
	var out []string
	for _, n := range names {
		if n == "*" {
			return nil, true, nil
		}
		if n == "" || strings.ContainsAny(string(n), " :,\t\r\n") {
			return nil, false, fmt.Errorf("%s: invalid header name %q", field, n)
		}
		out = append(out, string(n))
	}
	return out, false, nil
}

// parseOriginPattern reads `<scheme>://<host>[:<port>]`; the port defaults
// to the scheme's (80 for http, 443 for https), as the spec says.
func parseOriginPattern(o string) (originPattern, error) {
	scheme, hostport, ok := strings.Cut(o, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") || hostport == "" || strings.ContainsAny(hostport, "/?#@") {
		return originPattern{}, fmt.Errorf("allowOrigins: %q is not <scheme>://<host>[:<port>] with scheme http or https", o)
	}
	host, port := splitOriginHost(scheme, hostport)
	if host == "" || port == "" {
		return originPattern{}, fmt.Errorf("allowOrigins: %q has no host or a bad port", o)
	}
	var re strings.Builder
	re.WriteString("^")
	for i, part := range strings.Split(strings.ToLower(host), "*") {
		if i > 0 {
			re.WriteString(".*")
		}
		re.WriteString(regexp.QuoteMeta(part))
	}
	re.WriteString("$")
	hostRE, err := regexp.Compile(re.String())
	if err != nil { // invalid UTF-8 in the host
		return originPattern{}, fmt.Errorf("allowOrigins: %q has an invalid host", o)
	}
	return originPattern{scheme: scheme, host: hostRE, port: port}, nil
}

// splitOriginHost splits host[:port], filling in the scheme's default port;
// port is "" when it is not a number in 1..65535.
func splitOriginHost(scheme, hostport string) (host, port string) {
	host = hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host, port = hostport[:i], hostport[i+1:]
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return host, ""
		}
		return host, strconv.Itoa(n)
	}
	if scheme == "https" {
		return host, "443"
	}
	return host, "80"
}

// allows reports whether the request's Origin is allowed.
func (c *CORS) allows(origin string) bool {
	if c.anyOrigin {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return false // includes the opaque origin "null"
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := splitOriginHost(scheme, strings.ToLower(u.Host))
	for _, p := range c.origins {
		if p.scheme == scheme && p.port == port && p.host.MatchString(host) {
			return true
		}
	}
	return false
}

// corsRequest is what the CORS filter reads of a request.
type corsRequest struct {
	origin, requestMethod, requestHeaders string
}

func readCORSRequest(r *Request) corsRequest {
	var c corsRequest
	if c.origin, _ = r.header("Origin"); c.origin == "" {
		return c
	}
	c.requestMethod, _ = r.header(hdrRequestMethod)
	c.requestHeaders, _ = r.header(hdrRequestHeaders)
	return c
}

// isPreflight: an OPTIONS request with Origin and
// Access-Control-Request-Method (Fetch standard, CORS-preflight request).
func (c *corsRequest) isPreflight(method string) bool {
	return method == http.MethodOptions && c.origin != "" && c.requestMethod != ""
}

// allowOrigin returns the headers every allowed response carries, or nil
// for an origin that is not allowed. The origin is echoed rather than `*`:
// the spec allows both without credentials and requires it with them, and
// caches must then key on Origin.
func (c *CORS) allowOrigin(req *corsRequest) *HeaderModifier {
	if !c.allows(req.origin) {
		return nil
	}
	m := &HeaderModifier{Set: []HeaderValue{{hdrAllowOrigin, req.origin}}, Add: []HeaderValue{{"Vary", "Origin"}}}
	if c.credentials {
		m.Set = append(m.Set, HeaderValue{hdrAllowCredentials, "true"})
	}
	return m
}

// preflight returns the answer's headers for a preflight request.
func (c *CORS) preflight(req *corsRequest) *HeaderModifier {
	m := c.allowOrigin(req)
	if m == nil {
		return nil
	}
	switch {
	case c.anyMethod:
		// Echoing is what the spec requires with credentials and allows without.
		m.Set = append(m.Set, HeaderValue{hdrAllowMethods, req.requestMethod})
	case len(c.methods) > 0:
		m.Set = append(m.Set, HeaderValue{hdrAllowMethods, strings.Join(c.methods, ", ")})
	}
	switch {
	case c.anyHeader:
		if req.requestHeaders != "" {
			m.Set = append(m.Set, HeaderValue{hdrAllowHeaders, req.requestHeaders})
		}
	case len(c.headers) > 0:
		m.Set = append(m.Set, HeaderValue{hdrAllowHeaders, strings.Join(c.headers, ", ")})
	}
	c.exposeHeaders(m, nil)
	m.Set = append(m.Set, HeaderValue{hdrMaxAge, c.maxAge})
	return m
}

// actual returns the CORS headers for the response of an actual
// (non-preflight) cross-origin request.
func (c *CORS) actual(req *corsRequest, respNames func() []string) *HeaderModifier {
	m := c.allowOrigin(req)
	if m != nil {
		c.exposeHeaders(m, respNames)
	}
	return m
}

// exposeHeaders adds Access-Control-Expose-Headers. A wildcard is sent as
// `*` without credentials; with credentials `*` is not allowed, so the names
// of the response's own headers are listed instead (none on a preflight).
func (c *CORS) exposeHeaders(m *HeaderModifier, respNames func() []string) {
	switch {
	case c.anyExpose && !c.credentials:
		m.Set = append(m.Set, HeaderValue{hdrExposeHeaders, "*"})
	case c.anyExpose && respNames != nil:
		var names []string
		for _, k := range respNames() {
			if !corsSafelisted[k] && !strings.HasPrefix(k, "Access-Control-") && k != "Vary" {
				names = append(names, k)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			m.Set = append(m.Set, HeaderValue{hdrExposeHeaders, strings.Join(names, ", ")})
		}
	case len(c.expose) > 0:
		m.Set = append(m.Set, HeaderValue{hdrExposeHeaders, strings.Join(c.expose, ", ")})
	}
}

// corsSafelisted are the CORS-safelisted response header names (Fetch),
// which browsers expose without being told.
var corsSafelisted = map[string]bool{
	"Cache-Control": true, "Content-Language": true, "Content-Length": true,
	"Content-Type": true, "Expires": true, "Last-Modified": true, "Pragma": true,
}
