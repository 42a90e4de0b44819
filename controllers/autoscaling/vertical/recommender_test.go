package vertical

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRecommender(t *testing.T, mutate func(*RecommenderConfig)) *Recommender {
	t.Helper()
	cfg := DefaultRecommenderConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := NewRecommender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// feed adds samples for replicas every step over span, from usage(t).
func feed(t *testing.T, r *Recommender, start time.Time, span, step time.Duration, replicas int, usage func(i int, at time.Time) (cores, bytes float64)) {
	t.Helper()
	for at := start; at.Before(start.Add(span)); at = at.Add(step) {
		for i := range replicas {
			cores, bytes := usage(i, at)
			if err := r.AddSample(Sample{Replica: fmt.Sprintf("wp-%d", i), Time: at, CPUCores: cores, MemoryBytes: bytes}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// near accepts got from 2% below want to `over` above it: percentiles
// report the end of a histogram bucket, and buckets are 5-10% wide.
func near(got, want int64, over float64) bool {
	return float64(got) >= 0.98*float64(want) && float64(got) <= (1+over)*float64(want)
}

// The vertical figure: on synthetic traces the recommendation
// converges to the usage percentile plus the safety margin, and the
// bounds close in as history grows.
func TestRecommenderConvergesOnSyntheticTraces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRecommender(t, func(c *RecommenderConfig) {
		c.MemoryPeakInterval = time.Hour
		c.SampleInterval = 10 * time.Second
	})
	// CPU uniform in [0.3, 0.7] cores: p90 = 0.66. Memory idles at 200Mi
	// and peaks at 300Mi once an hour.
	usage := func(_ int, at time.Time) (float64, float64) {
		mem := 200.0 * mebibyte
		if at.Minute() == 30 {
			mem = 300 * mebibyte
		}
		return 0.3 + 0.4*rng.Float64(), mem
	}
	feed(t, r, t0, time.Hour, 10*time.Second, 3, usage)
	early, ok := r.Recommendation()
	if !ok {
		t.Fatal("no recommendation after an hour of samples")
	}
	feed(t, r, t0.Add(time.Hour), 71*time.Hour, 10*time.Second, 3, usage)
	late, _ := r.Recommendation()

	// Histogram buckets are 5% wide and percentiles report a bucket's end.
	wantCPU := int64(0.66 * 1.15 * 1000)
	wantMem := int64(300 * 1.15 * mebibyte)
	if !near(late.Target.MilliCPU, wantCPU, 0.1) {
		t.Errorf("cpu target %dm, want about %dm (p90 + 15%%)", late.Target.MilliCPU, wantCPU)
	}
	if !near(late.Target.MemoryBytes, wantMem, 0.1) {
		t.Errorf("memory target %s, want about %s (peak + 15%%)", formatBytes(late.Target.MemoryBytes), formatBytes(wantMem))
	}
	for name, rec := range map[string]Recommendation{"early": early, "late": late} {
		if rec.LowerBound.MilliCPU > rec.Target.MilliCPU || rec.Target.MilliCPU > rec.UpperBound.MilliCPU ||
			rec.LowerBound.MemoryBytes > rec.Target.MemoryBytes || rec.Target.MemoryBytes > rec.UpperBound.MemoryBytes {
			t.Errorf("%s: bounds out of order: %+v", name, rec)
		}
	}
	if late.Confidence < 2.9 || late.Confidence > 3.1 {
		t.Errorf("confidence after 3 days = %v, want about 3", late.Confidence)
	}
	if !(late.UpperBound.MilliCPU < early.UpperBound.MilliCPU && late.LowerBound.MilliCPU > early.LowerBound.MilliCPU) {
		t.Errorf("cpu range did not narrow: early [%d, %d], late [%d, %d]",
			early.LowerBound.MilliCPU, early.UpperBound.MilliCPU, late.LowerBound.MilliCPU, late.UpperBound.MilliCPU)
	}
	// After 3 days the upper bound is p95 + 15% widened by 1 + 1/3:
	// 0.68 * 1.15 * 4/3 * 1.1 (bucket width) = 1.147 cores.
	if maxUpper := int64(1147); late.UpperBound.MilliCPU > maxUpper {
		t.Errorf("cpu upper bound %dm after 3 days, want at most %dm", late.UpperBound.MilliCPU, maxUpper)
	}
}

func TestRecommenderFollowsALoadChange(t *testing.T) {
	r := newRecommender(t, func(c *RecommenderConfig) { c.CPUHalfLife = time.Hour })
	constant := func(cores float64) func(int, time.Time) (float64, float64) {
		return func(int, time.Time) (float64, float64) { return cores, 300 * mebibyte }
	}
	feed(t, r, t0, 6*time.Hour, 30*time.Second, 2, constant(1.0))
	feed(t, r, t0.Add(6*time.Hour), 12*time.Hour, 30*time.Second, 2, constant(0.2))
	rec, _ := r.Recommendation()
	if !near(rec.Target.MilliCPU, 230, 0.1) {
		t.Fatalf("cpu target %dm twelve half-lives after usage fell to 200m, want about 230m", rec.Target.MilliCPU)
	}
}

func TestMemoryCountsOnePeakPerReplicaAndInterval(t *testing.T) {
	median := func(c *RecommenderConfig) {
		c.LowerMemoryPercentile, c.TargetMemoryPercentile, c.UpperMemoryPercentile = 0.5, 0.5, 0.5
		c.SafetyMargin = 0
	}
	r := newRecommender(t, median)
	// Ten low samples then one high one, all in one interval: only the
	// peak must remain, so the median is the peak.
	for i := range 10 {
		if err := r.AddSample(Sample{Replica: "a", Time: t0.Add(time.Duration(i) * time.Minute), MemoryBytes: 100 * mebibyte}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddSample(Sample{Replica: "a", Time: t0.Add(11 * time.Minute), MemoryBytes: 400 * mebibyte}); err != nil {
		t.Fatal(err)
	}
	rec, _ := r.Recommendation()
	if !near(rec.Target.MemoryBytes, 400*mebibyte, 0.1) {
		t.Fatalf("memory median %s, want about 400Mi (the interval's peak)", formatBytes(rec.Target.MemoryBytes))
	}
}

func TestRecommendationIsClampedToAllowedRange(t *testing.T) {
	r := newRecommender(t, func(c *RecommenderConfig) {
		c.MinAllowed = Resources{MilliCPU: 500, MemoryBytes: 256 * mebibyte}
		c.MaxAllowed = Resources{MilliCPU: 2000, MemoryBytes: 512 * mebibyte}
	})
	feed(t, r, t0, time.Hour, time.Minute, 1, func(int, time.Time) (float64, float64) { return 0.05, 2048 * mebibyte })
	rec, _ := r.Recommendation()
	if rec.Target.MilliCPU != 500 || rec.Target.MemoryBytes != 512*mebibyte {
		t.Fatalf("target %s, want cpu 500m (min) and memory 512Mi (max)", rec.Target)
	}
	if rec.UncappedTarget.MilliCPU >= 500 || rec.UncappedTarget.MemoryBytes <= 512*mebibyte {
		t.Fatalf("uncapped target %s should show what usage asked for", rec.UncappedTarget)
	}
	if rec.UpperBound.MemoryBytes > 512*mebibyte || rec.LowerBound.MilliCPU < 500 {
		t.Fatalf("bounds escape the allowed range: [%s] to [%s]", rec.LowerBound, rec.UpperBound)
	}
}

func TestOOMRaisesMemory(t *testing.T) {
	r := newRecommender(t, nil)
	feed(t, r, t0, time.Hour, time.Minute, 1, func(int, time.Time) (float64, float64) { return 0.1, 100 * mebibyte })
	if err := r.RecordOOM("wp-0", t0.Add(2*time.Hour), 128*mebibyte); err == nil {
		// Same interval as the earlier samples of wp-0 ends after 24h, so
		// the bumped value replaces the peak.
		rec, _ := r.Recommendation()
		if rec.Target.MemoryBytes < 228*mebibyte {
			t.Fatalf("memory target %s after an OOM at 128Mi, want at least 228Mi", formatBytes(rec.Target.MemoryBytes))
		}
	} else {
		t.Fatal(err)
	}
	if err := r.RecordOOM("wp-0", t0, 0); err == nil {
		t.Fatal("accepted an OOM without a request")
	}
}

func TestAddSampleRejectsBadInput(t *testing.T) {
	r := newRecommender(t, nil)
	tests := []struct {
		name string
		s    Sample
		want string
	}{
		{"no replica", Sample{Time: t0}, "no replica name"},
		{"no time", Sample{Replica: "a"}, "has no time"},
		{"negative cpu", Sample{Replica: "a", Time: t0, CPUCores: -1}, "invalid usage"},
		{"NaN memory", Sample{Replica: "a", Time: t0, MemoryBytes: math.NaN()}, "invalid usage"},
		{"infinite cpu", Sample{Replica: "a", Time: t0, CPUCores: math.Inf(1)}, "invalid usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.AddSample(tt.s); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddSample error = %v, want %q", err, tt.want)
			}
		})
	}
	if _, ok := r.Recommendation(); ok {
		t.Fatal("rejected samples produced a recommendation")
	}
}

func TestIdleReplicasAreForgotten(t *testing.T) {
	r := newRecommender(t, func(c *RecommenderConfig) { c.MemoryPeakInterval = time.Minute })
	for i := range 50 {
		at := t0.Add(time.Duration(i) * time.Hour)
		if err := r.AddSample(Sample{Replica: fmt.Sprintf("pod-%d", i), Time: at, MemoryBytes: mebibyte}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.peaks); n > 1 {
		t.Fatalf("tracking %d replicas, want only the live one", n)
	}
}

func TestRecommenderConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*RecommenderConfig)
		want   string
	}{
		{"percentile order", func(c *RecommenderConfig) { c.LowerCPUPercentile = 0.99 }, "lower <= target <= upper"},
		{"percentile range", func(c *RecommenderConfig) { c.UpperMemoryPercentile = 1.5 }, "memory percentiles must be in (0, 1]"},
		{"negative margin", func(c *RecommenderConfig) { c.SafetyMargin = -0.1 }, "safetyMargin"},
		{"zero half-life", func(c *RecommenderConfig) { c.CPUHalfLife = 0 }, "cpuHalfLife must be positive"},
		{"max below min", func(c *RecommenderConfig) { c.MaxAllowed.MilliCPU = 10 }, "maxAllowed cpu (10m) is below minAllowed cpu (25m)"},
		{"memory max below min", func(c *RecommenderConfig) { c.MaxAllowed.MemoryBytes = 100 * mebibyte }, "maxAllowed memory (100Mi) is below minAllowed memory (250Mi)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultRecommenderConfig()
			tt.mutate(&cfg)
			if _, err := NewRecommender(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewRecommender error = %v, want %q", err, tt.want)
			}
		})
	}
}
