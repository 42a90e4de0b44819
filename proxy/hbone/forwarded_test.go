package hbone

import (
	"context"
	"io"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// TestForwardedFromUntrustedPeerIsDropped: any workload with a mesh
// certificate can send "Forwarded: for=" claiming any source. A server that
// does not trust the peer drops the claim and reports the tunnel's own TCP
// peer as the source, so a backend never sees a forged client address.
func TestForwardedFromUntrustedPeerIsDropped(t *testing.T) {
	ca := identitytest.NewCA("root")
	got := make(chan *ConnectRequest, 1)
	remote := make(chan string, 1)
	m := NewMetrics(nil)
	srv := startServer(t, ca, serverOpts{cfg: ServerConfig{Metrics: m}, handler: HandlerFunc(func(_ context.Context, r *ConnectRequest, s *Stream) {
		got <- r
		remote <- s.RemoteAddr().String()
		s.Accept()
	})})
	client := newTestClient(t, ca, nil, nil)
	s, err := client.Dial(ctxT(t), dialReq(netip.MustParseAddrPort("10.9.8.7:8080"), srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _ = io.ReadAll(s)
	r := <-got
	if r.Forwarded.IsValid() || r.Header.Get("Forwarded") != "" {
		t.Errorf("Forwarded = %v, header %q: an untrusted peer's claim must be dropped", r.Forwarded, r.Header.Get("Forwarded"))
	}
	if r.ForwardedDropped != `for="10.1.2.3:45678"` {
		t.Errorf("ForwardedDropped = %q, want the dropped header value", r.ForwardedDropped)
	}
	src := r.Source()
	if !src.Addr().IsLoopback() || src.Port() == 0 {
		t.Errorf("Source() = %v, want the tunnel's TCP peer on loopback", src)
	}
	if rem := <-remote; rem != src.String() {
		t.Errorf("stream RemoteAddr = %s, want the tunnel's peer %s", rem, src)
	}
	if n := testutil.ToFloat64(m.forwardedDrops); n != 1 {
		t.Errorf("wayfabric_hbone_forwarded_untrusted_total = %v, want 1", n)
	}
}

func TestTrustMeshComponents(t *testing.T) {
	waypoint := identity.MustParse("spiffe://cluster.local/ns/shop/sa/waypoint")
	trust := TrustMeshComponents("wayfabric-system", func(id identity.ID) bool { return id == waypoint })
	for id, want := range map[string]bool{
		"spiffe://cluster.local/ns/wayfabric-system/sa/ztunnel-default": true,  // a node proxy
		"spiffe://cluster.local/ns/wayfabric-system/sa/ztunnel-gpu":     true,  // another ZtunnelConfig's
		"spiffe://cluster.local/ns/shop/sa/waypoint":                    true,  // a waypoint, for the next hop
		"spiffe://cluster.local/ns/shop/sa/ztunnel-default":             false, // right name, any namespace: a workload
		"spiffe://cluster.local/ns/wayfabric-system/sa/ztunnel":         false, // not a ZtunnelConfig's account
		"spiffe://cluster.local/ns/wayfabric-system/sa/manager":         false,
		"spiffe://cluster.local/ns/shop/sa/web":                         false, // an ordinary workload
	} {
		if got := trust(identity.MustParse(id)); got != want {
			t.Errorf("trust(%s) = %v, want %v", id, got, want)
		}
	}
	if TrustMeshComponents("wayfabric-system", nil)(waypoint) {
		t.Error("without isWaypoint, no waypoint is trusted")
	}
}
