package waypoint

import (
	"io"
	"net"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// FuzzRequestPath sends arbitrary bytes as an inner stream to a waypoint
// with routes, filters and a live backend. The proxy must answer or hang
// up within bounds, never panic, and keep serving afterwards.
func FuzzRequestPath(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: web\r\n\r\n",
		"POST /api/x?y=1 HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabc",
		"GET /old/../v2/%2e%2e/a HTTP/1.1\r\nHost: web\r\nX-Version: v2\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
	} {
		f.Add([]byte(s))
	}
	b := startBackend(f, "b", true)
	w := newWorld()
	web := w.service("app", "web", "http", b.addr)
	w.service("app", "b", "http", b.addr)
	w.route("r",
		gwv1.HTTPRouteRule{
			Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchRegularExpression), Value: ptr.To("/v[0-9]/.*")}, Headers: []gwv1.HTTPHeaderMatch{{Name: "X-Version", Value: "v2"}}}},
			BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "b", 1)},
			Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestHeaderModifier,
				RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "Host", Value: "rewritten"}}}}},
		},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/old"), Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gwv1.HTTPRequestRedirectFilter{Path: &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/new")}}}}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/api"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "b", 1)},
			Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterURLRewrite, URLRewrite: &gwv1.HTTPURLRewriteFilter{Path: &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("")}}}},
			Retry:   &gwv1.HTTPRouteRetry{Codes: []gwv1.HTTPRouteRetryStatusCode{503}}},
	)
	p := newProxy(f, w, Config{ReadHeaderTimeout: 500 * time.Millisecond, MaxHeaderBytes: 16 << 10})
	addr, _ := listenProxy(f, p, web)

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			_, _ = c.Write(data)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		n, err := io.Copy(io.Discard, io.LimitReader(c, 4<<20))
		if isTimeout(err) {
			t.Fatalf("no answer and no hang-up within 5s (read %d bytes)", n)
		}
		if got := p.panics.Load(); got != 0 {
			t.Fatalf("handler panicked %d times", got)
		}
	})
}
