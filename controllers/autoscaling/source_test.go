package autoscaling_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
)

// fakeSource injects load per Waypoint (the collector's Source seam). A
// Waypoint marked real is collected over HTTP from real waypoint processes.
type fakeSource struct {
	mu    sync.Mutex
	loads map[types.NamespacedName]collector.Snapshot
	real  map[types.NamespacedName]bool
	http  *collector.HTTPSource
}

func (f *fakeSource) set(key types.NamespacedName, s collector.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loads == nil {
		f.loads = map[types.NamespacedName]collector.Snapshot{}
	}
	f.loads[key] = s
}

func (f *fakeSource) useHTTP(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.real == nil {
		f.real = map[types.NamespacedName]bool{}
	}
	f.real[key] = true
}

func (f *fakeSource) Collect(ctx context.Context, key types.NamespacedName) (collector.Snapshot, error) {
	f.mu.Lock()
	s, ok := f.loads[key]
	real := f.real[key]
	f.mu.Unlock()
	if real {
		return f.http.Collect(ctx, key)
	}
	if !ok {
		return collector.Snapshot{}, errors.New("no load injected")
	}
	s.At = time.Now()
	return s, nil
}

// replicas is a snapshot of n ready replicas each with the given load.
func replicas(n int, concurrency, rps float64, mutate ...func(*collector.ReplicaLoad)) collector.Snapshot {
	s := collector.Snapshot{Ready: int32(n)}
	for i := 0; i < n; i++ {
		r := collector.ReplicaLoad{Pod: "p" + string(rune('a'+i)), Concurrency: concurrency, RequestsPerSecond: rps, RequestsPerSecond10s: rps,
			P50: 2 * time.Millisecond, P99: 30 * time.Millisecond, MemoryBytes: 96 << 20}
		for _, m := range mutate {
			m(&r)
		}
		s.Replicas = append(s.Replicas, r)
	}
	return s
}
