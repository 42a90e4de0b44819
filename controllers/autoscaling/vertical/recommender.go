package vertical

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	vpautil "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender/util"
)

// Histogram layouts of the VPA recommender: buckets grow by 5%, CPU from
// 10 millicores up to 1000 cores, memory from 10 MB up to 1 TB.
const (
	bucketGrowth = 0.05
	// minSampleWeight and epsilon are VPA's: a sample weighs 0.1 and the
	// histogram treats weights below 1/1000 of that as empty.
	minSampleWeight = 0.1
	epsilon         = 0.001 * minSampleWeight
)

func cpuHistogramOptions() (vpautil.HistogramOptions, error) {
	return vpautil.NewExponentialHistogramOptions(1000, 0.01, 1+bucketGrowth, epsilon)
}

func memoryHistogramOptions() (vpautil.HistogramOptions, error) {
	return vpautil.NewExponentialHistogramOptions(1e12, 1e7, 1+bucketGrowth, epsilon)
}

// Sample is one replica's usage at one time.
type Sample struct {
	// Replica identifies the pod; memory peaks are tracked per replica.
	Replica     string
	Time        time.Time
	CPUCores    float64
	MemoryBytes float64
}

// Recommendation is a per-replica resource recommendation.
type Recommendation struct {
	Target, LowerBound, UpperBound Resources
	// UncappedTarget is the target before MinAllowed/MaxAllowed.
	UncappedTarget Resources
	// Confidence is how much history backs the bounds, in
	// ConfidenceIntervals (1.0 = one day with the defaults).
	Confidence float64
	Samples    int
	// FirstSample and LastSample delimit the history.
	FirstSample, LastSample time.Time
}

// memoryPeak is the peak of one replica in the current interval.
type memoryPeak struct {
	windowStart time.Time
	peak        float64
	lastSeen    time.Time
}

// Recommender aggregates usage of all replicas of one Waypoint.
// It is safe for concurrent use.
type Recommender struct {
	mu          sync.Mutex
	cfg         RecommenderConfig
	cpu, memory vpautil.Histogram
	peaks       map[string]*memoryPeak
	samples     int
	first, last time.Time
}

// NewRecommender returns an empty recommender.
func NewRecommender(cfg RecommenderConfig) (*Recommender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid vertical recommender config: %w", err)
	}
	cpuOpts, err := cpuHistogramOptions()
	if err != nil {
		return nil, err
	}
	memOpts, err := memoryHistogramOptions()
	if err != nil {
		return nil, err
	}
	return &Recommender{
		cfg:    cfg,
		cpu:    vpautil.NewDecayingHistogram(cpuOpts, cfg.CPUHalfLife),
		memory: vpautil.NewDecayingHistogram(memOpts, cfg.MemoryHalfLife),
		peaks:  map[string]*memoryPeak{},
	}, nil
}

// AddSample records one replica's usage. Invalid samples are rejected
// with an error and leave the recommender unchanged.
func (r *Recommender) AddSample(s Sample) error {
	switch {
	case s.Replica == "":
		return errors.New("sample has no replica name")
	case s.Time.IsZero():
		return fmt.Errorf("sample of replica %s has no time", s.Replica)
	case !validUsage(s.CPUCores) || !validUsage(s.MemoryBytes):
		return fmt.Errorf("sample of replica %s has invalid usage (cpu %v cores, memory %v bytes): must be finite and not negative", s.Replica, s.CPUCores, s.MemoryBytes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cpu.AddSample(s.CPUCores, minSampleWeight, s.Time)
	r.addMemory(s.Replica, s.Time, s.MemoryBytes)
	r.samples++
	if r.first.IsZero() || s.Time.Before(r.first) {
		r.first = s.Time
	}
	if s.Time.After(r.last) {
		r.last = s.Time
	}
	return nil
}

func validUsage(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// addMemory keeps one peak per replica and interval in the histogram: a
// higher sample within the interval replaces the interval's old peak.
func (r *Recommender) addMemory(replica string, t time.Time, bytes float64) {
	p, ok := r.peaks[replica]
	if !ok {
		r.forgetIdle(t)
		p = &memoryPeak{}
		r.peaks[replica] = p
	}
	p.lastSeen = t
	if p.windowStart.IsZero() || !t.Before(p.windowStart.Add(r.cfg.MemoryPeakInterval)) {
		p.windowStart, p.peak = t, bytes
		r.memory.AddSample(bytes, 1, t)
		return
	}
	if bytes > p.peak {
		r.memory.SubtractSample(p.peak, 1, p.windowStart)
		r.memory.AddSample(bytes, 1, p.windowStart)
		p.peak = bytes
	}
}

// forgetIdle drops peak tracking of replicas not seen for two intervals
// (deleted pods), so the map stays as small as the Deployment.
func (r *Recommender) forgetIdle(now time.Time) {
	for name, p := range r.peaks {
		if now.Sub(p.lastSeen) > 2*r.cfg.MemoryPeakInterval {
			delete(r.peaks, name)
		}
	}
}

// RecordOOM notes that a replica was killed for running out of memory
// while requesting requestBytes. As the VPA does, it counts as a memory
// peak of max(request * 1.2, request + 100Mi), so the next
// recommendation grows.
func (r *Recommender) RecordOOM(replica string, t time.Time, requestBytes int64) error {
	if requestBytes <= 0 {
		return fmt.Errorf("OOM of replica %s: memory request must be positive, got %d", replica, requestBytes)
	}
	bumped := max(float64(requestBytes)*1.2, float64(requestBytes)+100*mebibyte)
	return r.AddSample(Sample{Replica: replica, Time: t, MemoryBytes: bumped, CPUCores: 0})
}

// Recommendation returns the current recommendation; ok is false until
// at least one sample was recorded.
func (r *Recommender) Recommendation() (rec Recommendation, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.samples == 0 || r.cpu.IsEmpty() || r.memory.IsEmpty() {
		return Recommendation{}, false
	}
	cfg := &r.cfg
	confidence := r.confidence()
	margin := 1 + cfg.SafetyMargin
	// Widen the bounds while history is short, as the VPA does: the upper
	// bound by (1 + 1/confidence), the lower bound by (1 + 0.001/confidence)^-2.
	upperFactor := 1 + 1/confidence
	lowerFactor := math.Pow(1+0.001/confidence, -2)

	estimate := func(cpuP, memP, factor float64) Resources {
		return fromUsage(r.cpu.Percentile(cpuP)*margin*factor, r.memory.Percentile(memP)*margin*factor)
	}
	uncapped := estimate(cfg.TargetCPUPercentile, cfg.TargetMemoryPercentile, 1)
	rec = Recommendation{
		UncappedTarget: uncapped,
		Target:         uncapped.clamp(cfg.MinAllowed, cfg.MaxAllowed),
		LowerBound:     estimate(cfg.LowerCPUPercentile, cfg.LowerMemoryPercentile, lowerFactor).clamp(cfg.MinAllowed, cfg.MaxAllowed),
		UpperBound:     estimate(cfg.UpperCPUPercentile, cfg.UpperMemoryPercentile, upperFactor).clamp(cfg.MinAllowed, cfg.MaxAllowed),
		Confidence:     confidence,
		Samples:        r.samples,
		FirstSample:    r.first,
		LastSample:     r.last,
	}
	return rec, true
}

// confidence is the VPA heuristic: the lesser of the history's span and
// the time its samples cover, in ConfidenceIntervals.
func (r *Recommender) confidence() float64 {
	span := r.last.Sub(r.first).Seconds()
	covered := float64(r.samples) * r.cfg.SampleInterval.Seconds()
	c := min(span, covered) / r.cfg.ConfidenceInterval.Seconds()
	// A single instant of history would divide by zero below.
	return max(c, 1e-6)
}
