package waypoint

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
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
	const drainSeconds = 5 * time.Second
	sctx, scancel := context.WithTimeout(ctx, drainSeconds)
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

	if herr != nil || perr != nil || took >= drainSeconds {
		t.Errorf("shutdown: hbone=%v proxy=%v after %v, want clean exit before %v", herr, perr, took, drainSeconds)
	}
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, n+load.ok.Load(), load.firstErr.Load())
	}
	if during < 20 || servedBefore == 0 {
		t.Errorf("load too small to mean anything: %d ok during drain, %d served by the drained replica before", during, servedBefore)
	}
	t.Logf("%d requests (%d during the drain), 0 failed; drained replica exited after %v", load.ok.Load(), during, took.Round(time.Millisecond))
}
