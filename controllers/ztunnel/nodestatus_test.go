package ztunnel

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
)

// fakeZtunnel is a real HTTP server on one loopback address standing in
// for a ztunnel pod's port 15020.
type fakeZtunnel struct {
	mu       sync.Mutex
	status   ztunnelstatus.Status
	code     int
	body     string
	delay    time.Duration
	hits     atomic.Int64
	inflight *atomic.Int64
	maxSeen  *atomic.Int64
}

func (z *fakeZtunnel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	z.hits.Add(1)
	n := z.inflight.Add(1)
	defer z.inflight.Add(-1)
	for m := z.maxSeen.Load(); n > m && !z.maxSeen.CompareAndSwap(m, n); m = z.maxSeen.Load() {
	}
	z.mu.Lock()
	st, code, body, delay := z.status, z.code, z.body, z.delay
	z.mu.Unlock()
	if r.URL.Path != ztunnelstatus.Path {
		http.NotFound(w, r)
		return
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	if code != 0 {
		w.WriteHeader(code)
		return
	}
	if body != "" {
		fmt.Fprint(w, body)
		return
	}
	_ = json.NewEncoder(w).Encode(st)
}

// startZtunnels serves n fake ztunnels on 127.0.0.2.. with one port, as
// pods share the status port on distinct IPs.
func startZtunnels(t *testing.T, n int) (int, []*fakeZtunnel, []*corev1.Pod) {
	t.Helper()
	var inflight, maxSeen atomic.Int64
	for attempt := 0; attempt < 20; attempt++ {
		l0, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("loopback 127.0.0.2 not usable: %v", err)
		}
		port := l0.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{l0}
		for i := 1; i < n; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i+2), strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, l)
		}
		if len(lns) < n {
			for _, l := range lns {
				l.Close()
			}
			continue
		}
		var zs []*fakeZtunnel
		var pods []*corev1.Pod
		for i, l := range lns {
			z := &fakeZtunnel{status: ztunnelstatus.Status{Ready: true, CapturedPods: i + 1}, inflight: &inflight, maxSeen: &maxSeen}
			srv := &http.Server{Handler: z}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { _ = srv.Close() })
			zs = append(zs, z)
			pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("zt-", i), UID: types.UID(fmt.Sprint("uid-", i))},
				Status: corev1.PodStatus{PodIP: fmt.Sprintf("127.0.0.%d", i+2)}})
		}
		return port, zs, pods
	}
	t.Fatal("no port free on all loopback addresses")
	return 0, nil, nil
}

func captured(m map[types.UID]ztunnelstatus.Status) (sum int) {
	for _, s := range m {
		sum += s.CapturedPods
	}
	return sum
}

func TestHTTPNodeStatus(t *testing.T) {
	ctx := context.Background()

	t.Run("asks every pod, a bounded number at a time", func(t *testing.T) {
		port, zs, pods := startZtunnels(t, 6)
		for _, z := range zs {
			z.delay = 50 * time.Millisecond
		}
		h := NewHTTPNodeStatus(HTTPNodeStatusOptions{Port: port, Concurrency: 2})
		got := h.Statuses(ctx, pods)
		if len(got) != 6 || captured(got) != 1+2+3+4+5+6 {
			t.Fatalf("got %v", got)
		}
		if m := zs[0].maxSeen.Load(); m > 2 {
			t.Errorf("%d requests in flight, want at most 2", m)
		}
	})

	t.Run("reuses answers until MaxAge, then asks again", func(t *testing.T) {
		port, zs, pods := startZtunnels(t, 2)
		now := time.Unix(1000, 0)
		h := NewHTTPNodeStatus(HTTPNodeStatusOptions{Port: port, MaxAge: 25 * time.Second, Now: func() time.Time { return now }})
		h.Statuses(ctx, pods)
		zs[0].mu.Lock()
		zs[0].status.CapturedPods = 40
		zs[0].mu.Unlock()
		now = now.Add(10 * time.Second)
		if got := captured(h.Statuses(ctx, pods)); got != 3 || zs[0].hits.Load() != 1 {
			t.Fatalf("within MaxAge: captured %d after %d requests, want the cached 3 after 1", got, zs[0].hits.Load())
		}
		now = now.Add(20 * time.Second)
		if got := captured(h.Statuses(ctx, pods)); got != 42 || zs[0].hits.Load() != 2 {
			t.Fatalf("after MaxAge: captured %d after %d requests, want 42 after 2", got, zs[0].hits.Load())
		}
	})

	t.Run("a pod that does not answer sensibly is absent, the others count", func(t *testing.T) {
		port, zs, pods := startZtunnels(t, 5)
		zs[0].code = http.StatusInternalServerError
		zs[1].body = "not json"
		zs[2].delay = 5 * time.Second
		zs[3].body = `{"ready":true,"capturedPods":-3}`
		h := NewHTTPNodeStatus(HTTPNodeStatusOptions{Port: port, Timeout: 200 * time.Millisecond})
		start := time.Now()
		got := h.Statuses(ctx, pods)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("a slow pod held the answer for %v; the timeout is 200ms", took)
		}
		if len(got) != 1 || got[pods[4].UID].CapturedPods != 5 {
			t.Fatalf("got %v, want only the healthy pod's 5", got)
		}
	})

	t.Run("a failed pod is retried soon, not at every call", func(t *testing.T) {
		port, zs, pods := startZtunnels(t, 1)
		zs[0].code = http.StatusServiceUnavailable
		now := time.Unix(1000, 0)
		h := NewHTTPNodeStatus(HTTPNodeStatusOptions{Port: port, Now: func() time.Time { return now }})
		h.Statuses(ctx, pods)
		h.Statuses(ctx, pods)
		if zs[0].hits.Load() != 1 {
			t.Fatalf("%d requests right after a failure, want 1", zs[0].hits.Load())
		}
		zs[0].mu.Lock()
		zs[0].code = 0
		zs[0].mu.Unlock()
		now = now.Add(failureRetry + time.Second)
		if got := captured(h.Statuses(ctx, pods)); got != 1 {
			t.Fatalf("after the retry delay: %d captured, want 1", got)
		}
	})

	t.Run("one call spends at most its budget; the next goes on, least recently asked first", func(t *testing.T) {
		port, zs, pods := startZtunnels(t, 6)
		for _, z := range zs {
			z.delay = 300 * time.Millisecond
		}
		now := time.Unix(1000, 0)
		h := NewHTTPNodeStatus(HTTPNodeStatusOptions{Port: port, Concurrency: 1, Budget: 400 * time.Millisecond,
			Now: func() time.Time { return now }})
		for call, want := range []int{2, 4, 6} {
			start := time.Now()
			got := h.Statuses(ctx, pods)
			if len(got) != want {
				t.Fatalf("call %d: %d answers, want %d", call+1, len(got), want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("call %d took %v with a 400ms budget", call+1, took)
			}
		}
		for i, z := range zs {
			if z.hits.Load() != 1 {
				t.Errorf("pod %d asked %d times, want once", i, z.hits.Load())
			}
		}
		// Answers older than MaxAge that cannot be refreshed within the budget stand.
		now = now.Add(time.Hour)
		if got := h.Statuses(ctx, pods); captured(got) != 1+2+3+4+5+6 {
			t.Errorf("stale answers dropped: %v", got)
		}
	})

	t.Run("a pod whose address changed is asked again", func(t *testing.T) {
		port, zs, pods := startZtunnels(t, 2)
		h := NewHTTPNodeStatus(HTTPNodeStatusOptions{Port: port})
		h.Statuses(ctx, pods[:1])
		moved := pods[0].DeepCopy()
		moved.Status.PodIP = pods[1].Status.PodIP
		if got := h.Statuses(ctx, []*corev1.Pod{moved}); got[moved.UID].CapturedPods != 2 || zs[1].hits.Load() != 1 {
			t.Fatalf("got %v after %d requests to the new address", got, zs[1].hits.Load())
		}
	})
}
