package waypoint

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// meshWaypoint is a waypoint behind a real HBONE server (mutual TLS), and a
// way to open tunnels to it as any identity, claiming a Forwarded source.
type meshWaypoint struct {
	t    *testing.T
	ca   *identitytest.CA
	p    *Proxy
	addr netip.AddrPort
}

func startMeshWaypoint(t *testing.T, w *world) *meshWaypoint {
	t.Helper()
	ca := identitytest.NewCA("test")
	p := newProxy(t, w, Config{NodeProxyNamespace: nodeProxyNS})
	_, addr := hboneServer(t, ca, waypointID, p.HBONEHandler())
	return &meshWaypoint{t: t, ca: ca, p: p, addr: addr}
}

// client returns an HTTP client whose connections are HBONE tunnels to dst
// through the waypoint, opened as peer and claiming Forwarded 10.1.2.3.
func (m *meshWaypoint) client(peer identity.ID, dst netip.AddrPort, h2 bool) *http.Client {
	c := hboneClient(m.t, m.ca, peer)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return c.Dial(ctx, hbone.DialRequest{Target: dst, Proxy: m.addr, SourceIdentity: peer, PeerIdentity: waypointID,
			Forwarded: netip.MustParseAddrPort("10.1.2.3:45678")})
	}}
	if h2 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect, Transport: tr}
}

// TestForwardedTrustedOnlyFromNodeProxies: the backend sees the Forwarded
// source as the client (X-Forwarded-For) only when a node proxy set it;
// from any other identity the claim is replaced by the tunnel's own peer.
func TestForwardedTrustedOnlyFromNodeProxies(t *testing.T) {
	be := startBackend(t, "outside", false)
	w := newWorld()
	web := w.service("ext", "web", "http", be.addr)
	w.in.Namespaces[1].Labels = map[string]string{mesh.LabelUseWaypoint: "wp"}
	w.in.Waypoint.Namespace = "ext"
	m := startMeshWaypoint(t, w)
	for _, tc := range []struct {
		name string
		peer identity.ID
		want string
	}{
		{"node proxy: the claim is the client", ztunnelID, "10.1.2.3"},
		{"workload: the claim is dropped", sourceID, "127.0.0.1"},
		{"a ztunnel-named account outside the operator namespace is a workload", identity.MustParse("spiffe://cluster.local/ns/app/sa/ztunnel-default"), "127.0.0.1"},
		{"a waypoint is not trusted by a waypoint", identity.MustParse("spiffe://cluster.local/ns/other/sa/waypoint"), "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, m.client(tc.peer, web, false), "GET", "http://web/", nil, "")
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			if got := r.echo.Headers["X-Forwarded-For"]; got != tc.want {
				t.Errorf("X-Forwarded-For = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConsumerRoutesFollowThePeerIdentity: a consumer route (in namespace
// "client", for Service app/web) applies to tunnels whose verified identity
// is in "client" only (GEP-1294; conformance MeshConsumerRoute).
func TestConsumerRoutesFollowThePeerIdentity(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.in.HTTPRoutes = append(w.in.HTTPRoutes, &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "client", Name: "mine"},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web", Namespace: ptr.To[gwv1.Namespace]("app")}}},
			Rules: []gwv1.HTTPRouteRule{{
				Filters:     []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "X-Header-Set", Value: "set"}}}}},
				BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)},
			}},
		},
	})
	// The backend is in the mesh; the waypoint reaches it in plain TCP here.
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	m := startMeshWaypoint(t, w)
	for _, tc := range []struct {
		name string
		peer identity.ID
		want string
	}{
		{"client of the route's namespace", identity.MustParse("spiffe://cluster.local/ns/client/sa/default"), "set"},
		{"client of the Service's namespace", sourceID, ""},
		{"client of a third namespace", identity.MustParse("spiffe://cluster.local/ns/third/sa/default"), ""},
		{"a node proxy's own identity names no client", ztunnelID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, h2 := range []bool{false, true} {
				r := do(t, m.client(tc.peer, web, h2), "GET", "http://web/", nil, "")
				if r.status != 200 || r.header.Get("X-Header-Set") != tc.want {
					t.Errorf("h2=%v: status %d, X-Header-Set %q, want 200 and %q", h2, r.status, r.header.Get("X-Header-Set"), tc.want)
				}
			}
		})
	}
}

// TestWorkloadTrafficThroughTheWaypoint: with spec.for=workload a tunnel to a
// pod's IP and port is served and forwarded to that pod; Service routes do
// not apply to it.
func TestWorkloadTrafficThroughTheWaypoint(t *testing.T) {
	be := startBackend(t, "pod", false)
	w := newWorld()
	w.service("app", "web", "http", be.addr)
	w.route("r", gwv1.HTTPRouteRule{
		Filters:     []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "X-Header-Set", Value: "set"}}}}},
		BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)},
	})
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	w.in.Waypoint.For = routing.ForAll
	w.in.Workloads = []routing.Workload{{Namespace: "app", Name: "web-pod-0", ServiceAccount: "web", IPs: []netip.Addr{be.addr.Addr()}}}
	m := startMeshWaypoint(t, w)
	r := do(t, m.client(sourceID, be.addr, false), "GET", "http://pod/x", nil, "")
	if r.status != 200 || r.echo.Backend != "pod" || r.echo.Path != "/x" || r.header.Get("X-Header-Set") != "" {
		t.Fatalf("to the pod IP: %d %+v X-Header-Set=%q, want 200 from the pod without the Service route's header", r.status, r.echo, r.header.Get("X-Header-Set"))
	}
	if _, err := m.client(sourceID, netip.MustParseAddrPort("10.250.0.1:80"), false).Get("http://nobody/"); err == nil {
		t.Error("a pod IP the waypoint does not serve was accepted")
	}
}

// TestCORSThroughTheWaypoint: a preflight is answered by the waypoint (the
// backend never sees it); the actual request carries the CORS headers.
func TestCORSThroughTheWaypoint(t *testing.T) {
	be := startBackend(t, "web", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	w.route("r", gwv1.HTTPRouteRule{
		Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterCORS, CORS: &gwv1.HTTPCORSFilter{
			AllowOrigins: []gwv1.CORSOrigin{"https://*.example.com"}, AllowMethods: []gwv1.HTTPMethodWithWildcard{"PUT"},
			AllowCredentials: ptr.To(true), MaxAge: 60,
		}}},
		BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)},
	})
	w.in.Namespaces[0].Labels[mesh.LabelDataplaneMode] = ""
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	for _, c := range []*http.Client{h1Client(addr), h2Client(addr)} {
		before := be.requests.Load()
		r := do(t, c, "OPTIONS", "http://web/api", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"}, "")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			r.header.Get("Access-Control-Allow-Methods") != "PUT" || r.header.Get("Access-Control-Max-Age") != "60" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight: %d %v", r.status, r.header)
		}
		if be.requests.Load() != before {
			t.Error("the preflight reached the backend")
		}
		r = do(t, c, "PUT", "http://web/api", map[string]string{"Origin": "https://app.example.com"}, "x")
		if r.status != 200 || r.echo.Method != "PUT" || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Errorf("actual request: %d %v", r.status, r.header)
		}
		r = do(t, c, "PUT", "http://web/api", map[string]string{"Origin": "https://evil.test"}, "x")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("request from another origin: %d %v", r.status, r.header)
		}
	}
}
