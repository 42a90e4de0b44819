package waypoint

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestForwarding runs each case over HTTP/1.1 and HTTP/2 (prior knowledge)
// through a real waypoint to real backends on loopback.
func TestForwarding(t *testing.T) {
	v1 := startBackend(t, "v1", false)
	v2 := startBackend(t, "v2", true)
	ext := startBackend(t, "ext", false)
	mirror := startBackend(t, "mirror", false)

	w := newWorld()
	web := w.service("app", "web", "http", v1.addr)
	w.service("app", "v1", "http", v1.addr)
	w.service("app", "v2", "http2", v2.addr) // appProtocol by name: h2c upstream
	w.service("app", "empty", "http")
	w.service("app", "mirror", "http", mirror.addr)
	w.service("ext", "ext", "http", ext.addr)
	w.in.ReferenceGrants = append(w.in.ReferenceGrants, &gwv1.ReferenceGrant{})
	w.in.ReferenceGrants[0].Namespace = "ext"
	w.in.ReferenceGrants[0].Spec = gwv1.ReferenceGrantSpec{
		From: []gwv1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: "app"}},
		To:   []gwv1.ReferenceGrantTo{{Kind: "Service"}},
	}
	w.route("r",
		gwv1.HTTPRouteRule{Matches: prefixMatch("/v2"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "v2", 1)},
			Filters: []gwv1.HTTPRouteFilter{
				{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "X-Route", Value: "v2"}}, Remove: []string{"X-Secret"}}},
				{Type: gwv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Add: []gwv1.HTTPHeader{{Name: "X-Via", Value: "waypoint"}}}},
				{Type: gwv1.HTTPRouteFilterURLRewrite, URLRewrite: &gwv1.HTTPURLRewriteFilter{Path: &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/api")}}},
			}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/ext"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("ext", "ext", 1)}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/empty"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "empty", 1)}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/none")},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/old"), Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gwv1.HTTPRequestRedirectFilter{Path: &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr.To("/new")}, StatusCode: ptr.To(301)}}}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/mirrored"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "v1", 1)},
			Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: &gwv1.HTTPRequestMirrorFilter{BackendRef: backendRef("app", "mirror", 1).BackendObjectReference}}}},
		gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchExact), Value: ptr.To("/v1")}}}, BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "v1", 1)}},
	)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)

	cases := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		check   func(t *testing.T, r response)
	}{
		{name: "route, header modifiers and prefix rewrite to an h2c backend", method: "GET", path: "/v2/items?id=7",
			headers: map[string]string{"X-Secret": "s", "X-Keep": "k"},
			check: func(t *testing.T, r response) {
				e := r.echo
				if r.status != 200 || e.Backend != "v2" || e.Path != "/api/items?id=7" || e.Proto != "HTTP/2.0" {
					t.Fatalf("got %d %+v", r.status, e)
				}
				if e.Headers["X-Route"] != "v2" || e.Headers["X-Secret"] != "" || e.Headers["X-Keep"] != "k" {
					t.Errorf("request headers %v", e.Headers)
				}
				if r.header.Get("X-Via") != "waypoint" || r.header.Get("X-Backend") != "v2" {
					t.Errorf("response headers %v", r.header)
				}
			}},
		{name: "POST body is forwarded", method: "POST", path: "/v1", body: "hello",
			check: func(t *testing.T, r response) {
				if r.status != 200 || r.echo.Backend != "v1" || r.echo.Body != "hello" || r.echo.Method != "POST" {
					t.Fatalf("got %d %+v", r.status, r.echo)
				}
			}},
		{name: "out-of-mesh backend via plain HTTP", method: "GET", path: "/ext/x",
			check: func(t *testing.T, r response) {
				if r.status != 200 || r.echo.Backend != "ext" || r.echo.Proto != "HTTP/1.1" {
					t.Fatalf("got %d %+v", r.status, r.echo)
				}
			}},
		{name: "no route is 404", method: "GET", path: "/nothing",
			check: func(t *testing.T, r response) {
				if r.status != 404 || !strings.Contains(r.body, "no route") {
					t.Fatalf("got %d %q", r.status, r.body)
				}
			}},
		{name: "rule without backends is 500 with a clear body", method: "GET", path: "/none",
			check: func(t *testing.T, r response) {
				if r.status != 500 || !strings.Contains(r.body, "no backend") {
					t.Fatalf("got %d %q", r.status, r.body)
				}
			}},
		{name: "service without endpoints is 503", method: "GET", path: "/empty",
			check: func(t *testing.T, r response) {
				if r.status != 503 || !strings.Contains(r.body, "no ready endpoints") {
					t.Fatalf("got %d %q", r.status, r.body)
				}
			}},
		{name: "redirect", method: "GET", path: "/old/page?q=1", headers: map[string]string{"Host": "web.app"},
			check: func(t *testing.T, r response) {
				if r.status != 301 || r.header.Get("Location") != "http://web.app/new?q=1" {
					t.Fatalf("got %d location %q body %q", r.status, r.header.Get("Location"), r.body)
				}
			}},
		{name: "hop-by-hop headers are not forwarded", method: "GET", path: "/v1", headers: map[string]string{"Connection": "X-Hop", "X-Hop": "1"},
			check: func(t *testing.T, r response) {
				if _, ok := r.echo.Headers["X-Hop"]; ok || r.status != 200 {
					t.Fatalf("got %d, X-Hop forwarded: %v", r.status, r.echo.Headers)
				}
			}},
	}
	clients := map[string]*http.Client{"h1": h1Client(addr), "h2": h2Client(addr)}
	for proto, c := range clients {
		for _, tc := range cases {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				if proto == "h2" && tc.headers["Connection"] != "" {
					t.Skip("connection-specific fields are illegal in HTTP/2")
				}
				tc.check(t, do(t, c, tc.method, "http://web"+tc.path, tc.headers, tc.body))
			})
		}
	}

	t.Run("mirror receives a copy", func(t *testing.T) {
		before := mirror.requests.Load()
		r := do(t, clients["h1"], "GET", "http://web/mirrored", nil, "")
		if r.status != 200 || r.echo.Backend != "v1" {
			t.Fatalf("got %d %+v", r.status, r.echo)
		}
		waitFor(t, "mirrored request", func() bool { return mirror.requests.Load() > before })
	})

	t.Run("load report and metrics count the requests", func(t *testing.T) {
		rep := p.Recorder().Snapshot()
		if rep.Requests.Total < int64(2*len(cases)) {
			t.Errorf("total = %d, want ≥ %d", rep.Requests.Total, 2*len(cases))
		}
	})
}

func TestRetriesAndTimeouts(t *testing.T) {
	b := startBackend(t, "b", false)
	w := newWorld()
	web := w.service("app", "web", "http", b.addr)
	w.service("app", "b", "http", b.addr)
	w.route("r",
		gwv1.HTTPRouteRule{Matches: prefixMatch("/retry"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "b", 1)},
			Retry: &gwv1.HTTPRouteRetry{Codes: []gwv1.HTTPRouteRetryStatusCode{503}, Attempts: ptr.To(2), Backoff: ptr.To[gwv1.Duration]("10ms")}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/noretry"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "b", 1)}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/slow"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "b", 1)},
			Timeouts: &gwv1.HTTPRouteTimeouts{Request: ptr.To[gwv1.Duration]("200ms")}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/backend-slow"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "b", 1)},
			Timeouts: &gwv1.HTTPRouteTimeouts{BackendRequest: ptr.To[gwv1.Duration]("100ms")}},
	)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	c := h1Client(addr)

	cases := []struct {
		name      string
		path      string
		body      string
		status    int
		attempts  int64
		maxMillis int64
	}{
		{name: "retry on 503 succeeds on the third attempt", path: "/retry?fail=2", status: 200, attempts: 3},
		{name: "retry with a body replays it", path: "/retry?fail=1", body: "payload", status: 200, attempts: 2},
		{name: "retries exhausted returns the last answer", path: "/retry?fail=5", status: 503, attempts: 3},
		{name: "no retry stanza: 503 passes through", path: "/noretry?fail=1", status: 503, attempts: 1},
		{name: "request timeout gives 504 quickly", path: "/slow?sleep=2s", status: 504, attempts: 1, maxMillis: 1500},
		{name: "backendRequest timeout gives 504", path: "/backend-slow?sleep=2s", status: 504, attempts: 1, maxMillis: 1500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.fails.Store(0)
			before := b.requests.Load()
			start := time.Now()
			method := "GET"
			if tc.body != "" {
				method = "POST"
			}
			r := do(t, c, method, "http://web"+tc.path, nil, tc.body)
			if r.status != tc.status {
				t.Fatalf("status = %d (%q), want %d", r.status, r.body, tc.status)
			}
			if tc.body != "" && r.echo.Body != tc.body {
				t.Errorf("body = %q after retry, want %q", r.echo.Body, tc.body)
			}
			if got := b.requests.Load() - before; got != tc.attempts {
				t.Errorf("backend saw %d attempts, want %d", got, tc.attempts)
			}
			if el := time.Since(start).Milliseconds(); tc.maxMillis > 0 && el > tc.maxMillis {
				t.Errorf("took %d ms, want ≤ %d", el, tc.maxMillis)
			}
		})
	}
}

func TestLeastRequestAvoidsTheSlowEndpoint(t *testing.T) {
	slow := startBackend(t, "slow", false)
	fast := startBackend(t, "fast", false)
	slow.delay.Store(int64(40 * time.Millisecond))
	w := newWorld()
	web := w.service("app", "web", "http", slow.addr, fast.addr)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	c := h1Client(addr)

	// Round robin would split 50/50; least-request sends most to the endpoint
	// that finishes requests quickly.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 15; j++ {
				do(t, c, "GET", "http://web/", nil, "")
			}
		}()
	}
	wg.Wait()
	s, f := slow.requests.Load(), fast.requests.Load()
	if s+f != 120 || s*100/(s+f) > 30 {
		t.Errorf("slow endpoint got %d, fast %d: want ≤ 30%% on the slow one", s, f)
	}
}
