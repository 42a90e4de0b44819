package vertical

import (
	"errors"
	"fmt"
	"time"
)

// RecommenderConfig mirrors the VPA recommender's flags.
type RecommenderConfig struct {
	// Percentiles of CPU usage for target, lower and upper bound.
	TargetCPUPercentile, LowerCPUPercentile, UpperCPUPercentile float64
	// Percentiles of memory peaks for target, lower and upper bound.
	TargetMemoryPercentile, LowerMemoryPercentile, UpperMemoryPercentile float64
	// SafetyMargin is added to every estimate (0.15 = +15%).
	SafetyMargin float64
	// CPUHalfLife and MemoryHalfLife: a sample loses half its weight
	// after this long.
	CPUHalfLife, MemoryHalfLife time.Duration
	// MemoryPeakInterval: memory is sized on the peak of each replica in
	// each interval, not on every sample.
	MemoryPeakInterval time.Duration
	// ConfidenceInterval is the amount of history that counts as
	// "confidence 1"; bounds are widened while history is shorter.
	ConfidenceInterval time.Duration
	// SampleInterval is how often one replica is sampled; with the sample
	// count it tells how much history a sparse series really holds.
	SampleInterval time.Duration
	// MinAllowed and MaxAllowed clamp every recommendation (the Waypoint's
	// spec.autoscaling.vertical min/max). A zero max field means no max.
	MinAllowed, MaxAllowed Resources
}

// Defaults of the VPA recommender, except that SampleInterval matches the
// manager's one-second load collection.
const (
	DefaultSafetyMargin       = 0.15
	DefaultHalfLife           = 24 * time.Hour
	DefaultMemoryPeakInterval = 24 * time.Hour
	DefaultConfidenceInterval = 24 * time.Hour
	DefaultSampleInterval     = time.Second
)

// DefaultMinAllowed is the floor when the spec sets none (the VPA's
// per-pod minimum is 25m CPU and 250Mi memory).
var DefaultMinAllowed = Resources{MilliCPU: 25, MemoryBytes: 250 * mebibyte}

// DefaultRecommenderConfig returns VPA's defaults.
func DefaultRecommenderConfig() RecommenderConfig {
	return RecommenderConfig{
		TargetCPUPercentile:    0.9,
		LowerCPUPercentile:     0.5,
		UpperCPUPercentile:     0.95,
		TargetMemoryPercentile: 0.9,
		LowerMemoryPercentile:  0.5,
		UpperMemoryPercentile:  0.95,
		SafetyMargin:           DefaultSafetyMargin,
		CPUHalfLife:            DefaultHalfLife,
		MemoryHalfLife:         DefaultHalfLife,
		MemoryPeakInterval:     DefaultMemoryPeakInterval,
		ConfidenceInterval:     DefaultConfidenceInterval,
		SampleInterval:         DefaultSampleInterval,
		MinAllowed:             DefaultMinAllowed,
	}
}

// Validate reports every problem with the configuration in one error.
func (c *RecommenderConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	checkPercentiles := func(name string, lower, target, upper float64) {
		for _, p := range []float64{lower, target, upper} {
			if !(p > 0 && p <= 1) {
				bad("%s percentiles must be in (0, 1], got lower %v target %v upper %v", name, lower, target, upper)
				return
			}
		}
		if !(lower <= target && target <= upper) {
			bad("%s percentiles must satisfy lower <= target <= upper, got %v, %v, %v", name, lower, target, upper)
		}
	}
	checkPercentiles("CPU", c.LowerCPUPercentile, c.TargetCPUPercentile, c.UpperCPUPercentile)
	checkPercentiles("memory", c.LowerMemoryPercentile, c.TargetMemoryPercentile, c.UpperMemoryPercentile)
	if !(c.SafetyMargin >= 0 && c.SafetyMargin <= 10) {
		bad("safetyMargin must be between 0 and 10, got %v", c.SafetyMargin)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"cpuHalfLife", c.CPUHalfLife}, {"memoryHalfLife", c.MemoryHalfLife}, {"memoryPeakInterval", c.MemoryPeakInterval},
		{"confidenceInterval", c.ConfidenceInterval}, {"sampleInterval", c.SampleInterval},
	} {
		if d.v <= 0 {
			bad("%s must be positive, got %v", d.name, d.v)
		}
	}
	if c.MinAllowed.MilliCPU < 0 || c.MinAllowed.MemoryBytes < 0 || c.MaxAllowed.MilliCPU < 0 || c.MaxAllowed.MemoryBytes < 0 {
		bad("minAllowed and maxAllowed must not be negative")
	}
	if c.MaxAllowed.MilliCPU > 0 && c.MaxAllowed.MilliCPU < c.MinAllowed.MilliCPU {
		bad("maxAllowed cpu (%dm) is below minAllowed cpu (%dm)", c.MaxAllowed.MilliCPU, c.MinAllowed.MilliCPU)
	}
	if c.MaxAllowed.MemoryBytes > 0 && c.MaxAllowed.MemoryBytes < c.MinAllowed.MemoryBytes {
		bad("maxAllowed memory (%s) is below minAllowed memory (%s)", formatBytes(c.MaxAllowed.MemoryBytes), formatBytes(c.MinAllowed.MemoryBytes))
	}
	return errors.Join(errs...)
}
