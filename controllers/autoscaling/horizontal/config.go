package horizontal

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Metric is the per-replica load signal the policy scales on.
type Metric string

const (
	// MetricConcurrency is the number of in-flight requests per replica.
	MetricConcurrency Metric = "Concurrency"
	// MetricRequestsPerSecond is the request rate per replica.
	MetricRequestsPerSecond Metric = "RequestsPerSecond"
)

// PolicyType says how a RatePolicy's Value is read.
type PolicyType string

const (
	// PolicyPods allows Value replicas of change per Period.
	PolicyPods PolicyType = "Pods"
	// PolicyPercent allows Value percent of the replica count at the start
	// of the Period to be added or removed.
	PolicyPercent PolicyType = "Percent"
)

// SelectPolicy picks among several RatePolicies, as in the HPA behavior API.
type SelectPolicy string

const (
	// SelectMax uses the policy that allows the largest change (HPA default).
	SelectMax SelectPolicy = "Max"
	// SelectMin uses the policy that allows the smallest change.
	SelectMin SelectPolicy = "Min"
	// SelectDisabled forbids changes in this direction.
	SelectDisabled SelectPolicy = "Disabled"
)

// RatePolicy bounds the change of replicas over a sliding Period.
type RatePolicy struct {
	Type   PolicyType
	Value  int32
	Period time.Duration
}

// ScalingRules governs one direction (up or down), as the HPA's
// behavior.scaleUp / behavior.scaleDown do.
type ScalingRules struct {
	// Tolerance is the dead band in stable mode: no change in this
	// direction while stable load / current capacity is within it (0.1 =
	// 10%). Panic mode ignores the scale-up tolerance.
	Tolerance float64
	Policies  []RatePolicy
	Select    SelectPolicy
}

// Config is the horizontal policy of one Waypoint. Build it with
// DefaultConfig and override what the Waypoint spec sets.
type Config struct {
	Metric Metric
	// TargetPerReplica is the load one replica is sized for (in Metric units).
	TargetPerReplica float64
	// TargetUtilization is the fraction of TargetPerReplica to aim for; the
	// rest is headroom for bursts while new replicas start.
	TargetUtilization float64

	MinReplicas int32
	MaxReplicas int32

	// StableWindow is the averaging window for normal decisions.
	StableWindow time.Duration
	// PanicWindow is the short averaging window used to detect bursts.
	PanicWindow time.Duration
	// PanicThreshold: enter panic mode when the panic window asks for at
	// least this multiple of the ready replicas (2.0 = 200%).
	PanicThreshold float64
	// BurstConfirmation is how long a higher load must be sustained
	// (every sample in it above the level) before panic mode uses it in
	// full; it lets a step reach its final replica count within ~2 s while a
	// single noisy sample cannot.
	BurstConfirmation time.Duration
	// ScaleDownStabilization: a scale-down goes only to the highest
	// recommendation made over this window.
	ScaleDownStabilization time.Duration

	ScaleUp   ScalingRules
	ScaleDown ScalingRules
}

// Defaults, chosen and justified in docs/autoscaling.md.
const (
	DefaultTargetUtilization      = 0.7
	DefaultStableWindow           = 60 * time.Second
	DefaultPanicWindow            = 6 * time.Second
	DefaultPanicThreshold         = 2.0
	DefaultBurstConfirmation      = 2 * time.Second
	DefaultScaleUpTolerance       = 0.1
	DefaultScaleDownTolerance     = 0.15
	DefaultScaleDownStabilization = 180 * time.Second
	DefaultMaxReplicas            = 10
)

// bucketWidth is the resolution of the time windows. Samples arrive about
// once a second; finer buckets would only cost memory.
const bucketWidth = time.Second

// maxWindow caps every window so a typo cannot allocate gigabytes.
const maxWindow = 2 * time.Hour

// DefaultConfig returns the defaults for a metric and per-replica target.
func DefaultConfig(metric Metric, targetPerReplica float64) Config {
	return Config{
		Metric:                 metric,
		TargetPerReplica:       targetPerReplica,
		TargetUtilization:      DefaultTargetUtilization,
		MinReplicas:            1,
		MaxReplicas:            DefaultMaxReplicas,
		StableWindow:           DefaultStableWindow,
		PanicWindow:            DefaultPanicWindow,
		PanicThreshold:         DefaultPanicThreshold,
		BurstConfirmation:      DefaultBurstConfirmation,
		ScaleDownStabilization: DefaultScaleDownStabilization,
		ScaleUp: ScalingRules{
			Tolerance: DefaultScaleUpTolerance,
			Select:    SelectMax,
			Policies: []RatePolicy{
				// Up to 10x in 15 s, so a x10 step is absorbed in one move,
				// but at least 4 pods so small Waypoints can grow fast.
				{Type: PolicyPercent, Value: 900, Period: 15 * time.Second},
				{Type: PolicyPods, Value: 4, Period: 15 * time.Second},
			},
		},
		ScaleDown: ScalingRules{
			Tolerance: DefaultScaleDownTolerance,
			Select:    SelectMax,
			Policies: []RatePolicy{
				// Halve at most once a minute: removing capacity drains
				// connections, so it is never urgent.
				{Type: PolicyPercent, Value: 50, Period: 60 * time.Second},
			},
		},
	}
}

// effectiveTarget is the per-replica load the policy aims for.
func (c *Config) effectiveTarget() float64 {
	return c.TargetPerReplica * c.TargetUtilization
}

// Validate reports every problem with the configuration in one error.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch c.Metric {
	case MetricConcurrency, MetricRequestsPerSecond:
	default:
		bad("metric %q is not supported; use %q or %q", c.Metric, MetricConcurrency, MetricRequestsPerSecond)
	}
	if !(c.TargetPerReplica > 0) || math.IsInf(c.TargetPerReplica, 0) {
		bad("targetPerReplica must be a positive number, got %v", c.TargetPerReplica)
	}
	if !(c.TargetUtilization > 0 && c.TargetUtilization <= 1) {
		bad("targetUtilization must be in (0, 1], got %v", c.TargetUtilization)
	}
	if c.MinReplicas < 1 {
		bad("minReplicas must be at least 1, got %d", c.MinReplicas)
	}
	if c.MaxReplicas < c.MinReplicas {
		bad("maxReplicas (%d) must not be below minReplicas (%d)", c.MaxReplicas, c.MinReplicas)
	}
	checkWindow := func(name string, d time.Duration, min time.Duration) {
		if d < min || d > maxWindow {
			bad("%s must be between %v and %v, got %v", name, min, maxWindow, d)
		}
	}
	checkWindow("stableWindow", c.StableWindow, bucketWidth)
	checkWindow("panicWindow", c.PanicWindow, bucketWidth)
	checkWindow("burstConfirmation", c.BurstConfirmation, bucketWidth)
	checkWindow("scaleDownStabilization", c.ScaleDownStabilization, 0)
	if c.PanicWindow > c.StableWindow {
		bad("panicWindow (%v) must not be longer than stableWindow (%v)", c.PanicWindow, c.StableWindow)
	}
	if c.BurstConfirmation > c.PanicWindow {
		bad("burstConfirmation (%v) must not be longer than panicWindow (%v)", c.BurstConfirmation, c.PanicWindow)
	}
	if !(c.PanicThreshold > 1) || math.IsInf(c.PanicThreshold, 0) {
		bad("panicThreshold must be above 1 (e.g. 2.0 for 200%%), got %v", c.PanicThreshold)
	}
	errs = append(errs, c.ScaleUp.validate("scaleUp")...)
	errs = append(errs, c.ScaleDown.validate("scaleDown")...)
	if c.ScaleDown.Select != SelectDisabled {
		for i, p := range c.ScaleDown.Policies {
			if p.Type == PolicyPercent && p.Value > 100 {
				bad("scaleDown.policies[%d]: a Percent policy cannot remove more than 100%%, got %d", i, p.Value)
			}
		}
	}
	return errors.Join(errs...)
}

func (r *ScalingRules) validate(field string) []error {
	var errs []error
	if !(r.Tolerance >= 0 && r.Tolerance < 1) {
		errs = append(errs, fmt.Errorf("%s.tolerance must be in [0, 1), got %v", field, r.Tolerance))
	}
	switch r.Select {
	case SelectMax, SelectMin:
		if len(r.Policies) == 0 {
			errs = append(errs, fmt.Errorf("%s needs at least one policy unless select is %q", field, SelectDisabled))
		}
	case SelectDisabled:
	default:
		errs = append(errs, fmt.Errorf("%s.select %q is not supported; use %q, %q or %q", field, r.Select, SelectMax, SelectMin, SelectDisabled))
	}
	for i, p := range r.Policies {
		if p.Type != PolicyPods && p.Type != PolicyPercent {
			errs = append(errs, fmt.Errorf("%s.policies[%d].type %q is not supported; use %q or %q", field, i, p.Type, PolicyPods, PolicyPercent))
		}
		if p.Value <= 0 {
			errs = append(errs, fmt.Errorf("%s.policies[%d].value must be positive, got %d", field, i, p.Value))
		}
		if p.Period < bucketWidth || p.Period > maxWindow {
			errs = append(errs, fmt.Errorf("%s.policies[%d].period must be between %v and %v, got %v", field, i, bucketWidth, maxWindow, p.Period))
		}
	}
	return errs
}

// longestPeriod is how much scale history the rate limiter must keep.
func (r *ScalingRules) longestPeriod() time.Duration {
	var longest time.Duration
	for _, p := range r.Policies {
		longest = max(longest, p.Period)
	}
	return longest
}
