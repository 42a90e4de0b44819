package waypoint

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

const nodeProxyNS = "wayfabric-system"

var (
	sourceID   = identity.MustParse("spiffe://cluster.local/ns/app/sa/client")
	ztunnelID  = identity.MustParse("spiffe://cluster.local/ns/wayfabric-system/sa/ztunnel-default")
	waypointID = identity.MustParse("spiffe://cluster.local/ns/app/sa/waypoint")
	backendID  = identity.MustParse("spiffe://cluster.local/ns/app/sa/backend-sa")
)

func certs(ca *identitytest.CA, ids ...identity.ID) identity.CertProvider {
	m := identity.StaticCerts{}
	for _, id := range ids {
		m[id] = ca.IssueValid(id, time.Hour)
	}
	return m
}

// hboneServer runs an HBONE server with identity id on loopback; like the
// waypoint's, it trusts Forwarded from node proxies in wayfabric-system.
func hboneServer(t *testing.T, ca *identitytest.CA, id identity.ID, h hbone.Handler) (*hbone.Server, netip.AddrPort) {
	t.Helper()
	srv, err := hbone.NewServer(hbone.ServerConfig{TLS: identity.ServerTLS{
		Certs: certs(ca, id), Bundle: ca.Bundle(), LocalID: id, Authorize: identity.InTrustDomain("cluster.local"),
	}.Config(), TrustForwarded: hbone.TrustMeshComponents(nodeProxyNS, nil)}, h)
	if err != nil {
		t.Fatal(err)
	}
	l := loopback.Listen(t)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return srv, netip.MustParseAddrPort(l.Addr().String())
}

func hboneClient(t *testing.T, ca *identitytest.CA, id identity.ID) *hbone.Client {
	t.Helper()
	c, err := hbone.NewClient(hbone.ClientConfig{Certs: certs(ca, id), Bundle: ca.Bundle()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHBONEEndToEnd: client → HBONE → waypoint → HBONE → server (in mesh),
// and client → HBONE → waypoint → plain HTTP → server (out of mesh), over
// HTTP/1.1 and HTTP/2 inside the tunnel, with real mutual TLS everywhere.
func TestHBONEEndToEnd(t *testing.T) {
	ca := identitytest.NewCA("test")
	meshed := startBackend(t, "meshed", true)
	outside := startBackend(t, "outside", false)

	// The destination node's ztunnel: terminates HBONE as backend-sa, dials the pod.
	_, destZtunnel := hboneServer(t, ca, backendID, hbone.DialTarget{})

	w := newWorld()
	web := w.service("app", "web", "http", meshed.addr)
	w.service("ext", "legacy", "http", outside.addr)
	w.service("app", "web2", "http2", meshed.addr) // declares h2c: HTTP/2 inside the upstream tunnel
	w.in.PodServiceAccounts = map[types.NamespacedName]string{
		{Namespace: "app", Name: "web-pod-0"}:  "backend-sa",
		{Namespace: "app", Name: "web2-pod-0"}: "backend-sa",
	}
	w.in.ReferenceGrants = []*gwv1.ReferenceGrant{{Spec: gwv1.ReferenceGrantSpec{
		From: []gwv1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: "app"}},
		To:   []gwv1.ReferenceGrantTo{{Kind: "Service"}},
	}}}
	w.in.ReferenceGrants[0].Namespace = "ext"
	w.route("r",
		gwv1.HTTPRouteRule{Matches: prefixMatch("/legacy"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("ext", "legacy", 1)}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/h2"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web2", 1)}},
		gwv1.HTTPRouteRule{Matches: prefixMatch("/"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)}},
	)

	p := newProxy(t, w, Config{MeshDialer: &HBONEDialer{
		Client: hboneClient(t, ca, waypointID), Source: waypointID, TrustDomain: "cluster.local", Port: destZtunnel.Port(),
	}})
	_, waypointAddr := hboneServer(t, ca, waypointID, p.HBONEHandler())

	// The source ztunnel: opens CONNECT to the service VIP through the waypoint.
	src := hboneClient(t, ca, sourceID)
	tunnel := func(ctx context.Context, target netip.AddrPort) (net.Conn, error) {
		return src.Dial(ctx, hbone.DialRequest{Target: target, Proxy: waypointAddr, SourceIdentity: sourceID, PeerIdentity: waypointID,
			Forwarded: netip.MustParseAddrPort("10.1.2.3:45678")})
	}
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true)
	dialWeb := func(ctx context.Context, _, _ string) (net.Conn, error) { return tunnel(ctx, web) }
	clients := map[string]*http.Client{
		"HTTP/1.1": {Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialWeb}},
		"HTTP/2.0": {Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialWeb, Protocols: h2}},
	}
	cases := []struct {
		path, backend, upstreamProto string
	}{
		{"/hello", "meshed", "HTTP/1.1"}, // in-mesh service port "http": HTTP/1.1 inside the HBONE tunnel
		{"/legacy/x", "outside", "HTTP/1.1"},
		{"/h2/x", "meshed", "HTTP/2.0"}, // port "http2": HTTP/2 prior knowledge inside the tunnel
	}
	meshedBefore := meshed.requests.Load()
	for proto, c := range clients {
		for _, tc := range cases {
			t.Run(proto+tc.path, func(t *testing.T) {
				r := do(t, c, "GET", "http://web"+tc.path, nil, "")
				if r.status != 200 || r.echo.Backend != tc.backend || r.echo.Proto != tc.upstreamProto {
					t.Fatalf("got %d %+v", r.status, r.echo)
				}
				// The tunnel's peer is a workload, whose Forwarded claim is not
				// believed: the source is the tunnel's own TCP peer.
				if xff := r.echo.Headers["X-Forwarded-For"]; xff != "127.0.0.1" {
					t.Errorf("X-Forwarded-For = %q, want the tunnel's peer 127.0.0.1 (the claimed 10.1.2.3 comes from a workload)", xff)
				}
			})
		}
	}
	if meshed.requests.Load()-meshedBefore != 4 {
		t.Errorf("meshed backend saw %d requests, want 4", meshed.requests.Load()-meshedBefore)
	}

	t.Run("unknown destination is refused before the tunnel opens", func(t *testing.T) {
		_, err := tunnel(context.Background(), netip.MustParseAddrPort("10.200.0.1:80"))
		var ce *hbone.ConnectError
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable {
			t.Fatalf("err = %v, want CONNECT 503", err)
		}
	})

	t.Run("wrong destination identity fails closed", func(t *testing.T) {
		// A fresh waypoint (no pooled upstream connection) that expects another identity.
		in := w.in
		in.PodServiceAccounts = map[types.NamespacedName]string{{Namespace: "app", Name: "web-pod-0"}: "someone-else"}
		p2 := New(Config{MeshDialer: &HBONEDialer{
			Client: hboneClient(t, ca, waypointID), Source: waypointID, TrustDomain: "cluster.local", Port: destZtunnel.Port(),
		}})
		defer p2.Shutdown(context.Background())
		p2.SetTable(routing.Compile(in))
		addr, _ := listenProxy(t, p2, web)
		r := do(t, h1Client(addr), "GET", "http://web/hello", nil, "")
		if r.status != http.StatusBadGateway {
			t.Fatalf("status = %d, want 502 when the destination proves another identity", r.status)
		}
	})

	t.Run("raw bytes inside the tunnel pass through as L4", func(t *testing.T) {
		w2 := newWorld()
		dst := w2.service("app", "db", "db", tcpEcho(t, ""))
		w2.in.PodServiceAccounts = map[types.NamespacedName]string{{Namespace: "app", Name: "db-pod-0"}: "backend-sa"}
		p.SetTable(routing.Compile(w2.in))
		defer p.SetTable(routing.Compile(w.in))
		conn, err := tunnel(context.Background(), dst)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		msg := "\x00\x01binary"
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v", got, err)
		}
	})
}
