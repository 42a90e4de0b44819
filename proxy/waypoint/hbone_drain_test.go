package waypoint

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// TestHBONEDrainUnderLoadLosesNothing is the drain sequence of cmd/waypoint
// with real HBONE in front: readiness fails, the HBONE server sends GOAWAY
// on every connection, inner HTTP/2 gets GOAWAY and HTTP/1.1 Connection:
// close, new tunnels are still served for the accept window, then both
// servers shut down together. 500 req/s are offered throughout.
func TestHBONEDrainUnderLoadLosesNothing(t *testing.T) {
	ca := identitytest.NewCA("test")
	b := startBackend(t, "b", false)
	b.delay.Store(int64(5 * time.Millisecond))
	w := newWorld()
	web := w.service("app", "web", "http", b.addr)
	src := hboneClient(t, ca, sourceID)

	type hboneReplica struct {
		*replica
		srv *hbone.Server
	}
	var reps []hboneReplica
	var replicas []*replica
	for i := 0; i < 2; i++ {
		p := newProxy(t, w, Config{})
		srv, addr := hboneServer(t, ca, waypointID, p.HBONEHandler())
		r := newReplica(t, p, func(ctx context.Context) (net.Conn, error) {
			return src.Dial(ctx, hbone.DialRequest{Target: web, Proxy: addr, SourceIdentity: sourceID, PeerIdentity: waypointID})
		})
		replicas = append(replicas, r)
		reps = append(reps, hboneReplica{r, srv})
	}
	lb := &readinessBalancer{replicas: replicas}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lb.poll(ctx)
	loadCtx, stopLoad := context.WithCancel(ctx)
	load := startDrainLoad(loadCtx, lb)

	time.Sleep(time.Second)
	a := reps[0]
	servedBefore := a.p.Recorder().Snapshot().Requests.Total
	okBefore := load.ok.Load()
	start := time.Now()
	a.p.StartDrain()
	a.srv.Drain()
	if resp, err := http.Get(a.ready.URL + "/healthz/ready"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readiness during drain: %v %v", resp, err)
	}
	time.Sleep(500 * time.Millisecond)
	const drainBudget = 5 * time.Second
	sctx, scancel := context.WithTimeout(ctx, drainBudget)
	errc := make(chan error, 1)
	go func() { errc <- a.p.Shutdown(sctx) }()
	herr := a.srv.Shutdown(sctx)
	perr := <-errc
	scancel()
	took := time.Since(start)
	during := load.ok.Load() - okBefore
	time.Sleep(time.Second)
	stopLoad()
	load.wg.Wait()

	if herr != nil || perr != nil || took >= drainBudget {
		t.Errorf("shutdown: hbone=%v proxy=%v after %v, want clean exit before %v", herr, perr, took, drainBudget)
	}
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, n+load.ok.Load(), load.firstErr.Load())
	}
	if during < 20 || servedBefore == 0 {
		t.Errorf("load too small to mean anything: %d ok during drain, %d served by the drained replica before", during, servedBefore)
	}
	t.Logf("%d requests (%d during the drain), 0 failed; drained replica exited after %v", load.ok.Load(), during, took.Round(time.Millisecond))
}

// TestKeptAliveUpstreamRetiredOnGoAway: when the destination's node proxy
// starts draining (GOAWAY on its tunnels, as a ztunnel being replaced
// does), the waypoint puts no further request on its kept-alive upstream
// streams through it: the next request opens a new stream (here a new
// connection to the backend) and the idle one is closed, so nothing is in
// flight on it when the old proxy cuts what is left at the end of its drain.
func TestKeptAliveUpstreamRetiredOnGoAway(t *testing.T) {
	ca := identitytest.NewCA("test")
	var opened, closed atomic.Int64
	l := loopback.Listen(t)
	backendSrv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				opened.Add(1)
			case http.StateClosed:
				closed.Add(1)
			}
		},
	}
	go func() { _ = backendSrv.Serve(l) }()
	t.Cleanup(func() { _ = backendSrv.Close() })
	backendAddr := netip.MustParseAddrPort(l.Addr().String())

	destZtunnel, destAddr := hboneServer(t, ca, backendID, hbone.DialTarget{})
	w := newWorld()
	web := w.service("app", "web", "http", backendAddr)
	w.in.PodServiceAccounts = map[types.NamespacedName]string{{Namespace: "app", Name: "web-pod-0"}: "backend-sa"}
	w.route("r", gwv1.HTTPRouteRule{Matches: prefixMatch("/"), BackendRefs: []gwv1.HTTPBackendRef{backendRef("app", "web", 1)}})
	p := newProxy(t, w, Config{MeshDialer: &HBONEDialer{
		Client: hboneClient(t, ca, waypointID), Source: waypointID, TrustDomain: "cluster.local", Port: destAddr.Port(),
	}})
	_, waypointAddr := hboneServer(t, ca, waypointID, p.HBONEHandler())
	src := hboneClient(t, ca, sourceID)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return src.Dial(ctx, hbone.DialRequest{Target: web, Proxy: waypointAddr, SourceIdentity: sourceID, PeerIdentity: waypointID})
		}}}

	get := func() {
		t.Helper()
		if r := do(t, client, "GET", "http://web/", nil, ""); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	get()
	get()
	if n := opened.Load(); n != 1 {
		t.Fatalf("%d backend connections for two requests, want 1 (the upstream stream kept alive)", n)
	}
	destZtunnel.Drain()
	// The GOAWAY reaches the waypoint's tunnel asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for opened.Load() == 1 && time.Now().Before(deadline) {
		get()
		time.Sleep(20 * time.Millisecond)
	}
	if n := opened.Load(); n != 2 {
		t.Fatalf("after GOAWAY the waypoint kept using the draining stream: %d backend connections, want 2", n)
	}
	for deadline := time.Now().Add(5 * time.Second); closed.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if closed.Load() == 0 {
		t.Fatal("the retired upstream stream was never closed")
	}
}
