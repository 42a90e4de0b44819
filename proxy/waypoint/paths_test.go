package waypoint

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// Which path serves what: HTTP/1.1 requests stay on the fast path
// (h1forward.go) for CORS, consumer routes and workload destinations; a
// GRPCRoute destination hands HTTP/1.1 over to net/http. The handover
// counter tells the two apart, so these tests fail if a feature silently
// moves to the slow path (or the fast path starts serving what it cannot).

// corsWorld is a Service whose route has a CORS filter with credentials.
func corsWorld(t *testing.T) (*world, netip.AddrPort, *backend) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.route("r", gwv1.HTTPRouteRule{
		Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterCORS, CORS: &gwv1.HTTPCORSFilter{
			AllowOrigins: []gwv1.CORSOrigin{"https://*.example.com"}, AllowMethods: []gwv1.HTTPMethodWithWildcard{"PUT"},
			ExposeHeaders: []gwv1.HTTPHeaderName{"*"}, AllowCredentials: ptr.To(true), MaxAge: 60,
		}}},
		BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)},
	})
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	return w, web, be
}

// TestCORSOnBothPaths: the same answers from the fast path (HTTP/1.1) and
// net/http (HTTP/2), including exposeHeaders "*" with credentials, which
// lists the response's own header names.
func TestCORSOnBothPaths(t *testing.T) {
	w, web, _ := corsWorld(t)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	for _, tc := range []struct {
		name      string
		c         *http.Client
		handovers int64
	}{{"HTTP/1.1 (fast path)", h1Client(addr), 0}, {"HTTP/2 (net/http)", h2Client(addr), 1}} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.handovers.Load()
			r := do(t, tc.c, "PUT", "http://web/api", map[string]string{"Origin": "https://app.example.com"}, "x")
			want := map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers":    "Date, X-Backend", // the response's own, minus safelisted ones
				"Vary":                             "Origin",
			}
			for k, v := range want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if r.status != 200 || r.echo.Method != "PUT" {
				t.Errorf("status %d, echo %+v", r.status, r.echo)
			}
			if got := p.handovers.Load() - before; got != tc.handovers {
				t.Errorf("handovers to net/http: %d, want %d", got, tc.handovers)
			}
		})
	}
}

// TestPreflightOnTheFastPathRaw: the fast path's preflight answer on the
// wire: 204 without Content-Length (RFC 9110 §8.6), the CORS fields, and
// the connection kept for the next request, whose body the preflight's
// framing must not swallow.
func TestPreflightOnTheFastPathRaw(t *testing.T) {
	w, web, be := corsWorld(t)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(conn, "OPTIONS /api HTTP/1.1\r\nHost: web\r\nOrigin: https://a.example.com\r\nAccess-Control-Request-Method: PUT\r\n"+
		"Content-Length: 3\r\n\r\nabc"+
		"GET /after HTTP/1.1\r\nHost: web\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	head := readHead(t, br)
	for _, want := range []string{"HTTP/1.1 204 No Content\r\n", "Access-Control-Allow-Origin: https://a.example.com\r\n",
		"Access-Control-Allow-Methods: PUT\r\n", "Access-Control-Max-Age: 60\r\n", "Access-Control-Allow-Credentials: true\r\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("preflight answer lacks %q:\n%s", want, head)
		}
	}
	if strings.Contains(strings.ToLower(head), "content-length") || strings.Contains(head, "Connection: close") {
		t.Errorf("preflight answer:\n%s\nwant no Content-Length and the connection kept", head)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request after the preflight: %v", err)
	}
	_, _ = drainBody(resp)
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "web" || be.requests.Load() != 1 {
		t.Errorf("after the preflight: %d from %q, backend saw %d requests, want 200 from web, 1 request", resp.StatusCode, resp.Header.Get("X-Backend"), be.requests.Load())
	}
	if p.handovers.Load() != 0 {
		t.Errorf("%d handovers, want the fast path throughout", p.handovers.Load())
	}
}

func readHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a response head: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

// TestConsumerRoutesAndWorkloadsStayOnTheFastPath: HTTP/1.1 through HBONE to
// a Service with a consumer route, and to a pod IP (spec.for all), is served
// without net/http, and the consumer route still follows the peer identity.
func TestConsumerRoutesAndWorkloadsStayOnTheFastPath(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.in.HTTPRoutes = append(w.in.HTTPRoutes, &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "client", Name: "mine"},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web", Namespace: ptr.To[gwv1.Namespace]("app")}}},
			Rules: []gwv1.HTTPRouteRule{{
				Filters:     []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "X-Consumer", Value: "client"}}}}},
				BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)},
			}},
		},
	})
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	w.in.Waypoint.For = routing.ForAll
	w.in.Workloads = []routing.Workload{{Namespace: "app", Name: "web-pod-0", ServiceAccount: "web", IPs: []netip.Addr{be.addr.Addr()}}}
	m := startMeshWaypoint(t, w)
	clientID := identity.MustParse("spiffe://cluster.local/ns/client/sa/default")
	for _, tc := range []struct {
		name     string
		peer     identity.ID
		dst      netip.AddrPort
		consumer string
	}{
		{"consumer namespace to the Service", clientID, web, "client"},
		{"producer namespace to the Service", sourceID, web, ""},
		{"consumer namespace to the pod IP: Service routes never apply", clientID, be.addr, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.p.handovers.Load()
			r := do(t, m.client(tc.peer, tc.dst, false), "GET", "http://web/x", nil, "")
			if r.status != 200 || r.echo.Headers["X-Consumer"] != tc.consumer {
				t.Errorf("status %d, X-Consumer %q, want 200 and %q", r.status, r.echo.Headers["X-Consumer"], tc.consumer)
			}
			if got := m.p.handovers.Load() - before; got != 0 {
				t.Errorf("%d handovers to net/http, want the fast path", got)
			}
		})
	}
}

// TestGRPCRouteOverHTTP1IsHandedOver: a GRPCRoute destination hands HTTP/1.1
// to net/http, whose errors for a gRPC request are gRPC statuses: no
// matching rule is UNIMPLEMENTED (12) in a Trailers-Only answer (HTTP 200).
func TestGRPCRouteOverHTTP1IsHandedOver(t *testing.T) {
	w := newWorld()
	web := w.service("app", "web", "grpc")
	w.service("app", "v1", "grpc", grpcBackend(t, "v1"))
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	w.in.GRPCRoutes = []*gwv1.GRPCRoute{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "g"},
		Spec: gwv1.GRPCRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
			Rules:           []gwv1.GRPCRouteRule{grpcRouteRule("grpc.health.v1.Health", "Check", nil, grpcBackendRef("v1", 1))},
		},
	}}
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	r := do(t, h1Client(addr), "POST", "http://web/other.Svc/Call", map[string]string{"Content-Type": "application/grpc", "Te": "trailers"}, "\x00\x00\x00\x00\x00")
	if r.status != 200 || r.header.Get("Grpc-Status") != "12" {
		t.Errorf("status %d, grpc-status %q, want 200 and 12 (UNIMPLEMENTED)", r.status, r.header.Get("Grpc-Status"))
	}
	if p.handovers.Load() != 1 {
		t.Errorf("%d handovers, want 1", p.handovers.Load())
	}
}

// TestAuthorizationSourceIPCannotBeClaimed: an ipBlocks rule sees the source
// a tunnel vouches for. A workload claiming an allowed address in Forwarded
// is judged by its tunnel's own address; a node proxy's claim is believed.
// On both paths.
func TestAuthorizationSourceIPCannotBeClaimed(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	w.in.AuthorizationPolicies = []*meshv1alpha1.AuthorizationPolicy{
		authzPolicy(t, "from-pods", `{targetRefs: [{kind: Service, name: web}], rules: [{from: [{source: {ipBlocks: [10.1.2.0/24]}}]}]}`),
	}
	m := startMeshWaypoint(t, w) // its clients claim Forwarded 10.1.2.3
	for _, tc := range []struct {
		name string
		peer identity.ID
		want int
	}{
		{"a workload's claim is ignored", sourceID, 403},
		{"a node proxy's claim is believed", ztunnelID, 200},
	} {
		for _, h2 := range []bool{false, true} {
			if r := do(t, m.client(tc.peer, web, h2), "GET", "http://web/", nil, ""); r.status != tc.want {
				t.Errorf("%s (h2=%v): status %d, want %d", tc.name, h2, r.status, tc.want)
			}
		}
	}
}
