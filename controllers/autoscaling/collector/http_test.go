package collector

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

var wpKey = types.NamespacedName{Namespace: "app", Name: "wp"}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func pending(p *corev1.Pod)  { p.Status.Phase = corev1.PodPending }
func deleting(p *corev1.Pod) {
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	p.Finalizers = []string{"test/keep"}
}
func otherWaypoint(p *corev1.Pod)  { p.Labels[meshv1alpha1.LabelWaypoint] = "other" }
func otherNamespace(p *corev1.Pod) { p.Namespace = "elsewhere" }

func TestCollect(t *testing.T) {
	cases := []struct {
		name      string
		mutate    [3][]func(*corev1.Pod) // per pod
		serve     [3]func(*replicaServer)
		timeout   time.Duration
		wantLoads []float64 // concurrency of answering replicas, in pod order
		wantReady int32
		wantMiss  int32
		wantDrain int32
		wantFail  string // substring of the failure of pod c, if any
		wantHits  [3]int64
	}{
		{name: "every ready replica answers",
			wantLoads: []float64{1, 2, 3}, wantReady: 3, wantHits: [3]int64{1, 1, 1}},
		{name: "not ready, pending, deleting and foreign pods are not asked",
			mutate:    [3][]func(*corev1.Pod){{notReady}, {pending, otherWaypoint}, {deleting}},
			wantReady: 0, wantHits: [3]int64{0, 0, 0}},
		{name: "pods of another namespace are not asked",
			mutate:    [3][]func(*corev1.Pod){nil, {otherNamespace}, nil},
			wantLoads: []float64{1, 3}, wantReady: 2, wantHits: [3]int64{1, 0, 1}},
		{name: "an HTTP error is a missing replica",
			serve:     [3]func(*replicaServer){nil, nil, func(r *replicaServer) { r.status = http.StatusServiceUnavailable }},
			wantLoads: []float64{1, 2}, wantReady: 3, wantMiss: 1, wantFail: "HTTP 503", wantHits: [3]int64{1, 1, 1}},
		{name: "a slow replica is missing after the timeout",
			timeout:   150 * time.Millisecond,
			serve:     [3]func(*replicaServer){nil, nil, func(r *replicaServer) { r.delay = 2 * time.Second }},
			wantLoads: []float64{1, 2}, wantReady: 3, wantMiss: 1, wantFail: "deadline exceeded", wantHits: [3]int64{1, 1, 1}},
		{name: "a malformed body is a missing replica",
			serve:     [3]func(*replicaServer){nil, nil, func(r *replicaServer) { r.body = "<html>" }},
			wantLoads: []float64{1, 2}, wantReady: 3, wantMiss: 1, wantFail: "decoding", wantHits: [3]int64{1, 1, 1}},
		{name: "an unknown report version is a missing replica",
			serve:     [3]func(*replicaServer){nil, nil, func(r *replicaServer) { r.report.Version = 99 }},
			wantLoads: []float64{1, 2}, wantReady: 3, wantMiss: 1, wantFail: "version 99", wantHits: [3]int64{1, 1, 1}},
		{name: "a draining replica is neither ready nor missing",
			serve:     [3]func(*replicaServer){func(r *replicaServer) { r.report.Draining = true }, nil, nil},
			wantLoads: []float64{2, 3}, wantReady: 2, wantDrain: 1, wantHits: [3]int64{1, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port, servers, ips := startReplicas(t, 3)
			var objs []client.Object
			for i, name := range []string{"a", "b", "c"} {
				objs = append(objs, pod(wpKey, name, ips[i], tc.mutate[i]...))
				if tc.serve[i] != nil {
					servers[i].set(tc.serve[i])
				}
			}
			src := NewHTTPSource(fake.NewClientBuilder().WithObjects(objs...).Build(), HTTPOptions{Port: port, Timeout: tc.timeout})
			start := time.Now()
			snap, err := src.Collect(context.Background(), wpKey)
			if err != nil {
				t.Fatal(err)
			}
			if tc.timeout > 0 && time.Since(start) > 4*tc.timeout {
				t.Errorf("collection took %v with a %v timeout", time.Since(start), tc.timeout)
			}
			var loads []float64
			for _, r := range snap.Replicas {
				loads = append(loads, r.Concurrency)
			}
			if !slices.Equal(loads, tc.wantLoads) || snap.Ready != tc.wantReady || snap.Missing != tc.wantMiss || snap.Draining != tc.wantDrain {
				t.Errorf("loads %v ready %d missing %d draining %d, want %v %d %d %d (failures %v)",
					loads, snap.Ready, snap.Missing, snap.Draining, tc.wantLoads, tc.wantReady, tc.wantMiss, tc.wantDrain, snap.Failures)
			}
			if tc.wantFail != "" && !strings.Contains(snap.Failures["c"], tc.wantFail) {
				t.Errorf("failure of c = %q, want it to mention %q", snap.Failures["c"], tc.wantFail)
			}
			for i, s := range servers {
				if got := s.hits.Load(); got != tc.wantHits[i] {
					t.Errorf("replica %d asked %d times, want %d", i, got, tc.wantHits[i])
				}
			}
		})
	}
}

func TestCollectMapsTheReport(t *testing.T) {
	port, servers, ips := startReplicas(t, 1)
	servers[0].set(func(r *replicaServer) { r.report = report(4.5, 120) })
	src := NewHTTPSource(fake.NewClientBuilder().WithObjects(pod(wpKey, "a", ips[0])).Build(), HTTPOptions{Port: port})
	snap, err := src.Collect(context.Background(), wpKey)
	if err != nil || len(snap.Replicas) != 1 {
		t.Fatalf("snapshot %+v, err %v", snap, err)
	}
	got := snap.Replicas[0]
	want := ReplicaLoad{Pod: "a", Concurrency: 4.5, RequestsPerSecond: 120, RequestsPerSecond10s: 60,
		P50: 2 * time.Millisecond, P99: 40 * time.Millisecond, MemoryBytes: 64 << 20}
	if got != want {
		t.Errorf("replica load = %+v, want %+v", got, want)
	}
}

// The CPU counter becomes a rate from the second report of a pod on, on the
// pod's own clock; a counter that went back (restart) gives no rate.
func TestCollectCPURate(t *testing.T) {
	port, servers, ips := startReplicas(t, 1)
	src := NewHTTPSource(fake.NewClientBuilder().WithObjects(pod(wpKey, "a", ips[0])).Build(), HTTPOptions{Port: port})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		cpuSeconds float64
		at         time.Duration
		wantCPU    float64
		wantHas    bool
	}{
		{cpuSeconds: 100, at: 0, wantHas: false},
		{cpuSeconds: 100.5, at: 2 * time.Second, wantCPU: 0.25, wantHas: true},
		{cpuSeconds: 101.5, at: 3 * time.Second, wantCPU: 1, wantHas: true},
		{cpuSeconds: 0.2, at: 4 * time.Second, wantHas: false}, // restarted
	}
	for i, s := range steps {
		servers[0].set(func(r *replicaServer) {
			r.report.Process.CPUSecondsTotal = s.cpuSeconds
			r.report.Timestamp = t0.Add(s.at)
		})
		snap, err := src.Collect(context.Background(), wpKey)
		if err != nil || len(snap.Replicas) != 1 {
			t.Fatalf("step %d: snapshot %+v, err %v", i, snap, err)
		}
		r := snap.Replicas[0]
		if r.HasCPU != s.wantHas || math.Abs(r.CPUCores-s.wantCPU) > 1e-9 {
			t.Errorf("step %d: cpu %v (has %v), want %v (has %v)", i, r.CPUCores, r.HasCPU, s.wantCPU, s.wantHas)
		}
	}
}

func TestCollectBoundsConcurrency(t *testing.T) {
	const n = 6
	port, servers, ips := startReplicas(t, n)
	var inflight, maxSeen atomic.Int64
	var objs []client.Object
	for i, s := range servers {
		s.set(func(r *replicaServer) { r.delay, r.inflight, r.maxSeen = 100*time.Millisecond, &inflight, &maxSeen })
		objs = append(objs, pod(wpKey, string(rune('a'+i)), ips[i]))
	}
	src := NewHTTPSource(fake.NewClientBuilder().WithObjects(objs...).Build(), HTTPOptions{Port: port, Concurrency: 2})
	snap, err := src.Collect(context.Background(), wpKey)
	if err != nil || len(snap.Replicas) != n {
		t.Fatalf("snapshot %+v, err %v", snap, err)
	}
	if got := maxSeen.Load(); got != 2 {
		t.Errorf("at most %d requests were in flight, want exactly the bound 2", got)
	}
}
