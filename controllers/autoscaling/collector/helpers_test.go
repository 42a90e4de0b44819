package collector

import (
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

	"github.com/wayfabric/wayfabric/api/loadreport"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// replicaServer is a real HTTP server on one loopback address standing in
// for a waypoint pod's port 15020.
type replicaServer struct {
	mu       sync.Mutex
	report   loadreport.Report
	status   int
	delay    time.Duration
	body     string // raw body overriding report
	hits     atomic.Int64
	inflight *atomic.Int64
	maxSeen  *atomic.Int64
}

func (r *replicaServer) set(f func(*replicaServer)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

func (r *replicaServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	if r.inflight != nil {
		n := r.inflight.Add(1)
		defer r.inflight.Add(-1)
		for m := r.maxSeen.Load(); n > m && !r.maxSeen.CompareAndSwap(m, n); m = r.maxSeen.Load() {
		}
	}
	r.mu.Lock()
	rep, status, delay, body := r.report, r.status, r.delay, r.body
	r.mu.Unlock()
	if req.URL.Path != DefaultPath {
		http.NotFound(w, req)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	if status != 0 && status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	if body != "" {
		fmt.Fprint(w, body)
		return
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// startReplicas serves n replicas on 127.0.0.2.. 127.0.0.(n+1), all on one
// port, as pods share the load-report port on distinct IPs.
func startReplicas(t *testing.T, n int) (port int, servers []*replicaServer, ips []string) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		l0, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("loopback 127.0.0.2 not usable: %v", err)
		}
		port = l0.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{l0}
		ok := true
		for i := 1; i < n; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i+2), strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, l)
		}
		if !ok {
			for _, l := range lns {
				l.Close()
			}
			continue
		}
		servers, ips = nil, nil
		for i, l := range lns {
			rs := &replicaServer{report: report(float64(i+1), float64(10*(i+1)))}
			srv := &http.Server{Handler: rs}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { _ = srv.Close() })
			servers = append(servers, rs)
			ips = append(ips, fmt.Sprintf("127.0.0.%d", i+2))
		}
		return port, servers, ips
	}
	t.Fatal("no port free on all loopback addresses")
	return
}

func report(concurrency, rps float64) loadreport.Report {
	return loadreport.Report{
		Version:     loadreport.ReportVersion,
		Timestamp:   time.Now().UTC(),
		Requests:    loadreport.Requests{PerSecond1s: rps, PerSecond10s: rps / 2},
		Concurrency: loadreport.Concurrency{Average1s: concurrency},
		Latency:     loadreport.Latency{P50: 0.002, P99: 0.040},
		Process:     loadreport.Process{CPUSecondsTotal: 10, ResidentMemoryBytes: 64 << 20},
	}
}

// pod is a waypoint pod; mutate adjusts it per case.
func pod(wp types.NamespacedName, name, ip string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: wp.Namespace, Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{meshv1alpha1.LabelWaypoint: wp.Name}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}
