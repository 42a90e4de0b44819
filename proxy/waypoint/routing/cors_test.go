package routing

import (
	"net/http"
	"testing"

	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func corsF(f gwv1.HTTPCORSFilter) gwv1.HTTPRouteFilter {
	return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterCORS, CORS: &f}
}

func corsRoute(f gwv1.HTTPCORSFilter) []*gwv1.HTTPRoute {
	return []*gwv1.HTTPRoute{route("c", 0, withFilters(rule(nil, be("v1", 1)), corsF(f)))}
}

// corsMulti is the first route of the upstream HTTPRouteCORS conformance
// test: several origins (one a wildcard), listed methods and headers, and
// credentials.
var corsMulti = gwv1.HTTPCORSFilter{
	AllowOrigins:     []gwv1.CORSOrigin{"https://www.foo.com", "https://*.bar.com"},
	AllowMethods:     []gwv1.HTTPMethodWithWildcard{"GET", "OPTIONS"},
	AllowHeaders:     []gwv1.HTTPHeaderName{"x-header-1", "x-header-2"},
	ExposeHeaders:    []gwv1.HTTPHeaderName{"x-header-3", "x-header-4"},
	AllowCredentials: ptr.To(true),
	MaxAge:           3600,
}

func preflight(origin, method string, headers ...string) map[string][]string {
	h := map[string][]string{"Origin": {origin}, "Access-Control-Request-Method": {method}}
	if len(headers) > 0 {
		h["Access-Control-Request-Headers"] = headers
	}
	return h
}

func isPreflightAnswer(t *testing.T, d Decision) {
	t.Helper()
	if !d.Preflight || d.Backend != nil {
		t.Errorf("Preflight = %v, backend = %v: want a preflight answered by the waypoint", d.Preflight, d.Backend)
	}
}

func TestCORS(t *testing.T) {
	const options = http.MethodOptions
	allowedPreflight := map[string]string{
		"Access-Control-Allow-Origin":      "https://www.foo.com",
		"Access-Control-Allow-Methods":     "GET, OPTIONS",
		"Access-Control-Allow-Headers":     "x-header-1, x-header-2",
		"Access-Control-Expose-Headers":    "x-header-3, x-header-4",
		"Access-Control-Max-Age":           "3600",
		"Access-Control-Allow-Credentials": "true",
		"Vary":                             "Origin",
		"X-Up":                             "up",
	}
	noCORS := map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Credentials": "", "Vary": ""}
	cases := []routeCase{
		// --- Preflight ---
		{name: "preflight from an exact origin is answered with every configured header", spec: "HTTPCORSFilter: a matching Origin is echoed in Access-Control-Allow-Origin; allowMethods/allowHeaders/exposeHeaders listed; maxAge; allowCredentials true",
			routes: corsRoute(corsMulti), method: options, target: "/cors-1",
			headers: preflight("https://www.foo.com", "GET", "x-header-1, x-header-2"),
			status:  204, respHeaders: allowedPreflight, check: isPreflightAnswer},
		{name: "preflight from an origin matching a wildcard host", spec: "HTTPCORSFilter.AllowOrigins: `*` in the host is a greedy match to the left",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("https://www.bar.com", "GET"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://www.bar.com"}},
		{name: "the wildcard spans several labels", spec: "HTTPCORSFilter.AllowOrigins: `*` includes any number of DNS labels",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("https://xpto.www.bar.com", "GET"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://xpto.www.bar.com"}},
		{name: "the wildcard needs at least the dot before the domain", spec: "HTTPCORSFilter.AllowOrigins: *.bar.com does not match bar.com",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("https://bar.com", "GET"), status: 204, respHeaders: noCORS, check: isPreflightAnswer},
		{name: "preflight from a non-matching origin gets no CORS headers", spec: "HTTPCORSFilter: the gateway returns 204/200 but doesn't set the cross-origin response headers",
			routes: corsRoute(corsMulti), method: options, target: "/cors-1",
			headers: preflight("https://foobar.com", "GET"), status: 204, respHeaders: noCORS, check: isPreflightAnswer},
		{name: "the default port of the scheme is assumed", spec: "HTTPCORSFilter.AllowOrigins: port 443 is assumed for https origins",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("https://www.foo.com:443", "GET"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com:443"}},
		{name: "another port is another origin", spec: "HTTPCORSFilter.AllowOrigins: the port may affect origin matching",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("https://www.foo.com:8443", "GET"), status: 204, respHeaders: noCORS},
		{name: "another scheme is another origin", spec: "HTTPCORSFilter.AllowOrigins: <scheme>://<host>(:<port>)",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("http://www.foo.com", "GET"), status: 204, respHeaders: noCORS},
		{name: "the opaque origin null is not allowed by a list", spec: "Fetch: a serialized opaque origin is null",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: preflight("null", "GET"), status: 204, respHeaders: noCORS},
		{name: "OPTIONS without Access-Control-Request-Method is an ordinary request", spec: "Fetch: a CORS-preflight request carries Access-Control-Request-Method",
			routes: corsRoute(corsMulti), method: options, target: "/",
			headers: map[string][]string{"Origin": {"https://www.foo.com"}}, backend: "app/v1:80",
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Allow-Methods": ""}},
		{name: "OPTIONS without Origin is forwarded untouched", spec: "Fetch: requests without Origin are not CORS requests",
			routes: corsRoute(corsMulti), method: options, target: "/", backend: "app/v1:80", respHeaders: noCORS},
		{name: "allowMethods wildcard echoes the requested method", spec: "HTTPCORSFilter.AllowMethods: with `*`, echo Access-Control-Request-Method (required with credentials, allowed without)",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"https://www.foo.com"}, AllowMethods: []gwv1.HTTPMethodWithWildcard{"*"}}),
			method: options, target: "/cors-2", headers: preflight("https://www.foo.com", "POST"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Allow-Credentials": ""}},
		{name: "maxAge defaults to 5 seconds", spec: "HTTPCORSFilter.MaxAge: when unspecified, Access-Control-Max-Age: 5",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"https://www.foo.com"}}),
			method: options, target: "/", headers: preflight("https://www.foo.com", "GET"), status: 204,
			respHeaders: map[string]string{"Access-Control-Max-Age": "5", "Access-Control-Allow-Methods": ""}},
		{name: "any origin without credentials: the origin is echoed", spec: "HTTPCORSFilter.AllowOrigins `*` with allowCredentials false: `*` or the Origin",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"*"}, AllowMethods: []gwv1.HTTPMethodWithWildcard{"PUT"}, AllowCredentials: ptr.To(false)}),
			method: options, target: "/", headers: preflight("https://foobar.com:12345", "PUT"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://foobar.com:12345", "Access-Control-Allow-Methods": "PUT", "Access-Control-Allow-Credentials": ""}},
		{name: "any origin, method and header with credentials: every wildcard answered with the request's values", spec: "HTTPCORSFilter: with allowCredentials true the gateway must not return `*`",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"*"}, AllowMethods: []gwv1.HTTPMethodWithWildcard{"*"},
				AllowHeaders: []gwv1.HTTPHeaderName{"*"}, AllowCredentials: ptr.To(true)}),
			method: options, target: "/", headers: preflight("https://other.foo.com", "PUT", "x-header-1, x-header-2"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://other.foo.com", "Access-Control-Allow-Methods": "PUT",
				"Access-Control-Allow-Headers": "x-header-1, x-header-2", "Access-Control-Allow-Credentials": "true"}},
		{name: "allowHeaders wildcard without requested headers omits the header", spec: "HTTPCORSFilter.AllowHeaders: if Access-Control-Request-Headers is absent, omit Access-Control-Allow-Headers",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"*"}, AllowHeaders: []gwv1.HTTPHeaderName{"*"}, AllowCredentials: ptr.To(true)}),
			method: options, target: "/", headers: preflight("https://a.example", "GET"), status: 204,
			respHeaders: map[string]string{"Access-Control-Allow-Headers": ""}},
		{name: "a preflight is answered before a redirect", spec: "Fetch: the preflight is answered by the CORS protocol, not by the rule's action",
			routes: []*gwv1.HTTPRoute{route("c", 0, withFilters(rule(nil), corsF(corsMulti), redirectF(gwv1.HTTPRequestRedirectFilter{Hostname: ptr.To[gwv1.PreciseHostname]("elsewhere")})))},
			method: options, target: "/", headers: preflight("https://www.foo.com", "GET"), status: 204, location: "", check: isPreflightAnswer},

		// --- Actual requests ---
		{name: "simple request from an allowed origin gets Allow-Origin, Credentials and Expose-Headers", spec: "HTTPCORSFilter: the response carries Access-Control-Allow-Origin set to the Origin",
			routes: corsRoute(corsMulti), target: "/cors-1", headers: map[string][]string{"Origin": {"https://www.foo.com"}}, backend: "app/v1:80",
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": "x-header-3, x-header-4", "Access-Control-Max-Age": "", "Vary": "Origin", "X-Up": "up"}},
		{name: "simple request from another origin gets no CORS headers", spec: "HTTPCORSFilter: a non-matching Origin gets no cross-origin headers",
			routes: corsRoute(corsMulti), target: "/cors-1", headers: map[string][]string{"Origin": {"https://foobar.com"}}, backend: "app/v1:80",
			respHeaders: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "X-Up": "up"}},
		{name: "exposeHeaders wildcard without credentials is sent as *", spec: "HTTPCORSFilter.ExposeHeaders: `*` with allowCredentials false",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"*"}, ExposeHeaders: []gwv1.HTTPHeaderName{"*"}}),
			target: "/", headers: map[string][]string{"Origin": {"https://a.example"}}, backend: "app/v1:80",
			respHeaders: map[string]string{"Access-Control-Expose-Headers": "*"}},
		{name: "exposeHeaders wildcard with credentials lists the response's own headers", spec: "HTTPCORSFilter.ExposeHeaders: with allowCredentials true the gateway cannot use `*`",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"*"}, ExposeHeaders: []gwv1.HTTPHeaderName{"*"}, AllowCredentials: ptr.To(true)}),
			target: "/", headers: map[string][]string{"Origin": {"https://a.example"}}, backend: "app/v1:80",
			respHeaders: map[string]string{"Access-Control-Expose-Headers": "Server, X-Up"}},

		// --- Invalid filters ---
		{name: "two CORS filters make the rule invalid", spec: "HTTPRouteRule.Filters: CORS filter cannot be repeated",
			routes: []*gwv1.HTTPRoute{route("c", 0, withFilters(rule(nil, be("v1", 1)), corsF(corsMulti), corsF(corsMulti)))},
			target: "/", backend: "app/web:80", skipped: []string{"CORS specified twice", "no valid rules"}},
		{name: "an origin that is not scheme://host is invalid", spec: "HTTPCORSFilter.AllowOrigins: valid schemes are http and https",
			routes: corsRoute(gwv1.HTTPCORSFilter{AllowOrigins: []gwv1.CORSOrigin{"ftp://files.example"}}),
			target: "/", backend: "app/web:80", skipped: []string{"allowOrigins", "no valid rules"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runRouteCase(t, tc) })
	}
}
