package autoscaling

import (
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
)

func TestSummarizeLoad(t *testing.T) {
	at := time.Date(2026, 1, 1, 10, 0, 0, 700_000_000, time.UTC)
	cases := []struct {
		name string
		snap collector.Snapshot
		// want fields, as rendered in status
		rps                                int64
		concurrency, cpu, memory, p50, p99 string
		reporting                          int32
	}{
		{name: "no replica answered: zero reporting, no figures", snap: collector.Snapshot{At: at, Ready: 2, Missing: 2}, reporting: 0},
		{name: "totals, worst latencies and per-replica averages", snap: collector.Snapshot{At: at, Replicas: []collector.ReplicaLoad{
			{Concurrency: 2.5, RequestsPerSecond10s: 100.4, P50: 2 * time.Millisecond, P99: 40 * time.Millisecond, CPUCores: 0.25, HasCPU: true, MemoryBytes: 100 << 20},
			{Concurrency: 1.25, RequestsPerSecond10s: 50.3, P50: 3 * time.Millisecond, P99: 25 * time.Millisecond, MemoryBytes: 60 << 20},
		}}, rps: 151, concurrency: "3750m", cpu: "250m", memory: "80Mi", p50: "3ms", p99: "40ms", reporting: 2},
		{name: "latency rounds to 0.1 ms", snap: collector.Snapshot{At: at, Replicas: []collector.ReplicaLoad{
			{P50: 1234567 * time.Nanosecond, P99: 9876543 * time.Nanosecond, MemoryBytes: 1},
		}}, concurrency: "0", p50: "1.2ms", p99: "9.9ms", memory: "0", reporting: 1},
		{name: "idle replicas: no latency rather than 0s", snap: collector.Snapshot{At: at, Replicas: []collector.ReplicaLoad{
			{MemoryBytes: 30 << 20}, {MemoryBytes: 30 << 20},
		}}, concurrency: "0", memory: "30Mi", reporting: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := summarizeLoad(tc.snap)
			if l.ReportingReplicas != tc.reporting || l.RequestsPerSecond != tc.rps || !l.ObservedAt.Time.Equal(at.Truncate(time.Second)) {
				t.Errorf("reporting %d rps %d at %v", l.ReportingReplicas, l.RequestsPerSecond, l.ObservedAt)
			}
			str := func(v interface{ String() string }, isNil bool) string {
				if isNil {
					return ""
				}
				return v.String()
			}
			got := []string{str(l.Concurrency, l.Concurrency == nil), str(l.CPUPerReplica, l.CPUPerReplica == nil), str(l.MemoryPerReplica, l.MemoryPerReplica == nil)}
			want := []string{tc.concurrency, tc.cpu, tc.memory}
			switch {
			case tc.p99 == "" && l.P99Latency != nil:
				t.Errorf("p99 = %v, want none", l.P99Latency.Duration)
			case tc.p99 != "" && (l.P50Latency == nil || l.P99Latency == nil):
				t.Errorf("latencies missing, want p50 %s p99 %s", tc.p50, tc.p99)
			case tc.p99 != "":
				got = append(got, l.P50Latency.Duration.String(), l.P99Latency.Duration.String())
				want = append(want, tc.p50, tc.p99)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("field %d = %q, want %q (all %v)", i, got[i], want[i], got)
				}
			}
		})
	}
}

func TestSamplesKeepBothMetrics(t *testing.T) {
	s := samples(collector.Snapshot{Replicas: []collector.ReplicaLoad{{Concurrency: 3, RequestsPerSecond: 30, RequestsPerSecond10s: 10}}})
	if len(s) != 1 || s[0].Concurrency != 3 || s[0].RequestsPerSecond != 30 {
		t.Errorf("samples = %+v, want the last-second values", s)
	}
}
