package autoscaling

import (
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
)

// summarizeLoad turns one collection into status.load: totals across the
// reporting replicas (requests/s over 10 s, concurrency), the worst
// latencies, and per-replica averages of CPU and memory. Values are rounded
// (0.001 concurrency, 1m CPU, 1Mi memory, 0.1 ms latency) so status stays
// readable and does not change on noise below that.
func summarizeLoad(s collector.Snapshot) *meshv1alpha1.WaypointLoad {
	l := &meshv1alpha1.WaypointLoad{ReportingReplicas: int32(len(s.Replicas)), ObservedAt: &metav1.Time{Time: s.At.UTC().Truncate(time.Second)}}
	if len(s.Replicas) == 0 {
		return l
	}
	var rps, conc, cpu float64
	var mem int64
	var p50, p99 time.Duration
	var withCPU int
	for _, r := range s.Replicas {
		rps += r.RequestsPerSecond10s
		conc += r.Concurrency
		p50, p99 = max(p50, r.P50), max(p99, r.P99)
		mem += r.MemoryBytes
		if r.HasCPU {
			cpu += r.CPUCores
			withCPU++
		}
	}
	n := float64(len(s.Replicas))
	l.RequestsPerSecond = int64(math.Round(rps))
	l.Concurrency = resource.NewMilliQuantity(int64(math.Round(conc*1000)), resource.DecimalSI)
	if p99 > 0 { // an idle fleet has no latency to report, not a latency of 0s
		l.P50Latency = &metav1.Duration{Duration: p50.Round(100 * time.Microsecond)}
		l.P99Latency = &metav1.Duration{Duration: p99.Round(100 * time.Microsecond)}
	}
	if withCPU > 0 {
		l.CPUPerReplica = resource.NewMilliQuantity(int64(math.Round(cpu/float64(withCPU)*1000)), resource.DecimalSI)
	}
	if avg := float64(mem) / n; avg > 0 {
		l.MemoryPerReplica = resource.NewQuantity(int64(math.Round(avg/(1<<20)))<<20, resource.BinarySI)
	}
	return l
}

// samples are the horizontal policy's inputs: one per answering replica.
func samples(s collector.Snapshot) []horizontal.Sample {
	out := make([]horizontal.Sample, 0, len(s.Replicas))
	for _, r := range s.Replicas {
		out = append(out, horizontal.Sample{Concurrency: r.Concurrency, RequestsPerSecond: r.RequestsPerSecond})
	}
	return out
}

// recordLoadMetrics exports the last-second view of one collection.
func recordLoadMetrics(ns, name string, s collector.Snapshot) {
	var rps, conc float64
	var p99 time.Duration
	for _, r := range s.Replicas {
		rps += r.RequestsPerSecond
		conc += r.Concurrency
		p99 = max(p99, r.P99)
	}
	observedRPS.WithLabelValues(ns, name).Set(rps)
	observedConcurrency.WithLabelValues(ns, name).Set(conc)
	observedP99.WithLabelValues(ns, name).Set(p99.Seconds())
	reportingReplicas.WithLabelValues(ns, name).Set(float64(len(s.Replicas)))
	collectionSeconds.WithLabelValues(ns, name).Observe(s.Duration.Seconds())
	if s.Missing > 0 {
		collectionErrors.WithLabelValues(ns, name, "unreachable").Add(float64(s.Missing))
	}
}
