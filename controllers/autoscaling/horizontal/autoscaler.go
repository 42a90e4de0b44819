package horizontal

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Autoscaler holds the load history of one Waypoint and turns each tick's
// samples into a Decision. It is safe for concurrent use, but the caller
// should tick it from one place so its history stays in time order.
type Autoscaler struct {
	mu  sync.Mutex
	cfg Config

	load            *timeWindow // total load estimate per tick
	recommendations *timeWindow // raw replica recommendations
	scaled          scaleHistory

	firstData time.Time // first tick with samples: start of usable history
	lastTick  time.Time

	inPanic   bool
	lastBurst time.Time // last tick that was over the panic threshold
	panicPeak int32     // highest count asked for during this panic
}

// New returns an Autoscaler with empty history: until it has seen one
// full stable window of samples it will not scale below the current count.
func New(cfg Config) (*Autoscaler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid horizontal autoscaling config: %w", err)
	}
	a := &Autoscaler{}
	a.reset(cfg)
	return a, nil
}

func (a *Autoscaler) reset(cfg Config) {
	cfg.ScaleUp.Policies = append([]RatePolicy(nil), cfg.ScaleUp.Policies...)
	cfg.ScaleDown.Policies = append([]RatePolicy(nil), cfg.ScaleDown.Policies...)
	a.cfg = cfg
	a.load = newTimeWindow(cfg.StableWindow)
	a.recommendations = newTimeWindow(cfg.ScaleDownStabilization)
	a.scaled = scaleHistory{keep: max(cfg.ScaleUp.longestPeriod(), cfg.ScaleDown.longestPeriod())}
	a.firstData, a.lastTick = time.Time{}, time.Time{}
	a.inPanic, a.lastBurst, a.panicPeak = false, time.Time{}, 0
}

// Reconfigure applies a changed spec. History is kept when the windows
// keep their length; otherwise it starts over (and so starts safe).
func (a *Autoscaler) Reconfigure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid horizontal autoscaling config: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.cfg
	if bucketsIn(old.StableWindow) != bucketsIn(cfg.StableWindow) ||
		bucketsIn(old.ScaleDownStabilization) != bucketsIn(cfg.ScaleDownStabilization) {
		a.reset(cfg)
		return nil
	}
	cfg.ScaleUp.Policies = append([]RatePolicy(nil), cfg.ScaleUp.Policies...)
	cfg.ScaleDown.Policies = append([]RatePolicy(nil), cfg.ScaleDown.Policies...)
	a.cfg = cfg
	a.scaled.keep = max(cfg.ScaleUp.longestPeriod(), cfg.ScaleDown.longestPeriod())
	return nil
}

// Config returns a copy of the current configuration.
func (a *Autoscaler) Config() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

// Decide records this tick's samples and returns the replica count to run.
// It fails only on malformed input (zero or backwards time, negative
// counts); bad individual samples are skipped and counted in the Decision.
func (a *Autoscaler) Decide(in Input) (Decision, error) {
	if in.Now.IsZero() {
		return Decision{}, errors.New("input time is not set")
	}
	if in.CurrentReplicas < 0 || in.ReadyReplicas < 0 {
		return Decision{}, fmt.Errorf("replica counts must not be negative (current %d, ready %d)", in.CurrentReplicas, in.ReadyReplicas)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.lastTick.IsZero() && in.Now.Before(a.lastTick) {
		return Decision{}, fmt.Errorf("input time %s is before the previous tick %s", in.Now.Format(time.RFC3339Nano), a.lastTick.Format(time.RFC3339Nano))
	}
	a.lastTick = in.Now
	cfg := &a.cfg
	target := cfg.effectiveTarget()

	d := Decision{Metric: cfg.Metric}
	a.observe(in, target, &d)

	current := in.CurrentReplicas
	stable, stableBuckets := a.load.average(in.Now, cfg.StableWindow)
	panicLoad, panicBuckets := a.load.average(in.Now, cfg.PanicWindow)
	if burst, ok := a.load.sustained(in.Now, cfg.BurstConfirmation); ok {
		panicLoad = max(panicLoad, burst)
	}
	d.StableLoad, d.PanicLoad = stable, panicLoad
	if panicBuckets == 0 {
		d.Reason = ReasonNoMetrics
		d.Recommended = current
		a.finish(in.Now, current, current, &d)
		d.Message = fmt.Sprintf("no load report from any of %d ready replicas in the last %v; keeping %d replicas (missing metrics are never a reason to scale down)",
			in.ReadyReplicas, cfg.PanicWindow, d.DesiredReplicas)
		return d, nil
	}
	d.StableReplicas = replicasFor(stable, target)
	d.PanicReplicas = replicasFor(panicLoad, target)

	a.updatePanic(in, &d)
	raw := a.recommend(current, stable, target, stableBuckets, &d)
	warm := !a.firstData.IsZero() && in.Now.Sub(a.firstData) >= cfg.StableWindow
	if !warm && raw < current {
		raw, d.Reason = current, ReasonStartSafe
	}

	// Scale-down stabilization: go no lower than the highest recent
	// recommendation (HPA semantics; scale-up is not delayed).
	a.recommendations.record(in.Now, float64(raw))
	recommended := raw
	if raw < current {
		highest, _ := a.recommendations.peak(in.Now, cfg.ScaleDownStabilization)
		recommended = min(current, int32(highest))
		if recommended > raw {
			d.Reason = ReasonStabilizing
		}
	}
	d.Recommended = recommended
	a.finish(in.Now, current, recommended, &d)
	d.Message = a.explain(&d, in, stableBuckets, panicBuckets, raw, warm)
	return d, nil
}

// observe turns this tick's samples into one total-load estimate and
// records it. Ready replicas that did not report are counted at the larger
// of the reporting replicas' average and the target, so a missing report
// can raise the estimate but never lower it below "at target".
func (a *Autoscaler) observe(in Input, target float64, d *Decision) {
	var sum float64
	var reporting int32
	for _, s := range in.Samples {
		v := s.Concurrency
		if a.cfg.Metric == MetricRequestsPerSecond {
			v = s.RequestsPerSecond
		}
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			d.InvalidSamples++
			continue
		}
		sum += v
		reporting++
	}
	d.ReportingReplicas = reporting
	if reporting == 0 {
		d.MissingReplicas = in.ReadyReplicas
		return
	}
	missing := max(0, in.ReadyReplicas-reporting)
	d.MissingReplicas = missing
	total := sum + float64(missing)*max(sum/float64(reporting), target)
	d.TotalLoad = total
	a.load.record(in.Now, total)
	if a.firstData.IsZero() {
		a.firstData = in.Now
	}
}

// updatePanic enters panic mode when the panic window asks for at least
// PanicThreshold times the ready replicas, and leaves it once no burst has
// been seen for a whole stable window (as KPA does).
func (a *Autoscaler) updatePanic(in Input, d *Decision) {
	// Compare loads, not rounded replica counts: with one replica any
	// rounding up would otherwise look like 200%.
	ready := float64(max(in.ReadyReplicas, 1))
	if d.PanicLoad/(ready*a.cfg.effectiveTarget()) >= a.cfg.PanicThreshold {
		if !a.inPanic {
			a.inPanic, a.panicPeak = true, 0
		}
		a.lastBurst = in.Now
	} else if a.inPanic && in.Now.Sub(a.lastBurst) >= a.cfg.StableWindow {
		a.inPanic, a.panicPeak = false, 0
	}
	d.Panic = a.inPanic
}

// recommend is the raw replica count before start-safe, stabilization,
// rate limits and min/max.
func (a *Autoscaler) recommend(current int32, stable, target float64, stableBuckets int, d *Decision) int32 {
	if a.inPanic {
		// Never scale down in panic: hold the highest count asked for.
		a.panicPeak = max(a.panicPeak, d.PanicReplicas, d.StableReplicas, current)
		d.Reason = ReasonPanic
		return a.panicPeak
	}
	raw := d.StableReplicas
	if stableBuckets < bucketsIn(a.cfg.PanicWindow) {
		// Too few samples for a stable average (just started): only
		// panic mode, with its burst confirmation, may act.
		d.Reason = ReasonStartSafe
		return current
	}
	if current > 0 && raw != current {
		ratio := stable / (float64(current) * target)
		if (ratio >= 1 && ratio-1 <= a.cfg.ScaleUp.Tolerance) || (ratio < 1 && 1-ratio <= a.cfg.ScaleDown.Tolerance) {
			d.Reason = ReasonWithinTolerance
			return current
		}
	}
	switch {
	case raw > current:
		d.Reason = ReasonScaleUp
	case raw < current:
		d.Reason = ReasonScaleDown
	default:
		d.Reason = ReasonWithinTolerance
	}
	return raw
}

// finish applies rate limits and min/max, and records the scale event.
func (a *Autoscaler) finish(now time.Time, current, recommended int32, d *Decision) {
	cfg := &a.cfg
	desired := recommended
	if desired > current {
		if limit := scaleUpLimit(&cfg.ScaleUp, &a.scaled, now, current); desired > limit {
			desired, d.Limited, d.LimitReason = limit, true, LimitScaleUpRate
		}
	} else if desired < current {
		if limit := scaleDownLimit(&cfg.ScaleDown, &a.scaled, now, current); desired < limit {
			desired, d.Limited, d.LimitReason = limit, true, LimitScaleDownRate
		}
	}
	if desired > cfg.MaxReplicas {
		desired, d.Limited, d.LimitReason = cfg.MaxReplicas, true, LimitMaxReplicas
	}
	if desired < cfg.MinReplicas {
		desired, d.Limited, d.LimitReason = cfg.MinReplicas, true, LimitMinReplicas
	}
	d.DesiredReplicas = desired
	if desired != current {
		a.scaled.add(now, desired-current)
	}
}

// replicasFor is how many replicas carry load at target, saturating
// instead of overflowing.
func replicasFor(load, target float64) int32 {
	n := math.Ceil(load / target)
	if n >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(max(n, 0))
}
