package simulation

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// HPAConfig is the Kubernetes HPA (autoscaling/v2) with its documented
// defaults, scaling on a per-pod AverageValue metric.
type HPAConfig struct {
	// Target is the per-pod AverageValue target.
	Target      float64
	MinReplicas int32
	MaxReplicas int32
	// SyncPeriod is --horizontal-pod-autoscaler-sync-period (15 s).
	SyncPeriod time.Duration
	// Tolerance is --horizontal-pod-autoscaler-tolerance (0.1).
	Tolerance float64
	// ScaleDownStabilization is behavior.scaleDown.stabilizationWindowSeconds
	// (300 s); scale-up stabilization is 0.
	ScaleDownStabilization time.Duration
	// MetricWindow is how much history the metric averages at each sync:
	// zero reads the instantaneous value (a concurrency gauge scraped at
	// the sync); 15 s is a rate over one scrape interval.
	MetricWindow time.Duration
}

// DefaultHPAConfig returns the HPA defaults for a per-pod target.
func DefaultHPAConfig(target float64, minReplicas, maxReplicas int32) HPAConfig {
	return HPAConfig{
		Target:                 target,
		MinReplicas:            minReplicas,
		MaxReplicas:            maxReplicas,
		SyncPeriod:             15 * time.Second,
		Tolerance:              0.1,
		ScaleDownStabilization: 300 * time.Second,
	}
}

// HPA follows the algorithm of the Kubernetes horizontal pod autoscaler
// (replica calculator, stabilization, default behavior policies: scale up
// by max(100%, 4 pods) per 15 s, scale down by 100% per 15 s).
type HPA struct {
	cfg      HPAConfig
	name     string
	lastSync time.Time
	// recent per-second pod-average values, for MetricWindow.
	history         []float64
	recommendations []hpaRecord
	events          []hpaRecord // replica changes, for rate policies
}

type hpaRecord struct {
	at    time.Time
	value int32
}

// NewHPA validates cfg and returns the baseline.
func NewHPA(name string, cfg HPAConfig) (*HPA, error) {
	if !(cfg.Target > 0) || cfg.MinReplicas < 1 || cfg.MaxReplicas < cfg.MinReplicas || cfg.SyncPeriod < time.Second || cfg.Tolerance < 0 {
		return nil, errors.New("HPA baseline needs target > 0, 1 <= min <= max, sync period >= 1s and tolerance >= 0")
	}
	return &HPA{cfg: cfg, name: name}, nil
}

func (h *HPA) Name() string { return h.name }

func (h *HPA) Tick(o Observation) (int32, error) {
	if len(o.PerReplica) > 0 {
		var sum float64
		for _, v := range o.PerReplica {
			sum += v
		}
		h.history = append(h.history, sum/float64(len(o.PerReplica)))
	}
	if keep := max(1, int(h.cfg.MetricWindow/time.Second)); len(h.history) > keep {
		h.history = h.history[len(h.history)-keep:]
	}
	if !h.lastSync.IsZero() && o.Now.Sub(h.lastSync) < h.cfg.SyncPeriod {
		return o.CurrentReplicas, nil
	}
	h.lastSync = o.Now
	current := o.CurrentReplicas
	proposed, ok := h.replicaCount(o)
	if !ok {
		return current, nil // no metrics: the HPA does not act
	}
	stabilized := h.stabilize(o.Now, current, proposed)
	desired := h.rateLimit(o.Now, current, stabilized)
	if desired != current {
		h.events = append(h.events, hpaRecord{o.Now, desired - current})
	}
	return desired, nil
}

// replicaCount is the replica calculator for a pod AverageValue metric:
// pods that are not ready yet are pending, and count as zero on a
// scale-up and are left out otherwise.
func (h *HPA) replicaCount(o Observation) (int32, bool) {
	if len(h.history) == 0 || o.ReadyReplicas == 0 {
		return 0, false
	}
	var sum float64
	for _, v := range h.history {
		sum += v
	}
	perPod := sum / float64(len(h.history))
	ready := float64(o.ReadyReplicas)
	unready := float64(max(0, o.CurrentReplicas-o.ReadyReplicas))
	ratio := perPod / h.cfg.Target
	within := func(r float64) bool { return math.Abs(r-1) <= h.cfg.Tolerance }
	if unready == 0 || ratio <= 1 {
		if within(ratio) {
			return o.CurrentReplicas, true
		}
		return int32(math.Ceil(ratio * ready)), true
	}
	newRatio := perPod * ready / (ready + unready) / h.cfg.Target
	if within(newRatio) || newRatio < 1 {
		return o.CurrentReplicas, true
	}
	n := int32(math.Ceil(newRatio * (ready + unready)))
	return max(n, o.CurrentReplicas), true
}

// stabilize applies the scale-down stabilization window: never below the
// highest recommendation of the window.
func (h *HPA) stabilize(now time.Time, current, proposed int32) int32 {
	cutoff := now.Add(-h.cfg.ScaleDownStabilization)
	highest := proposed
	kept := h.recommendations[:0]
	for _, r := range h.recommendations {
		if r.at.After(cutoff) {
			highest = max(highest, r.value)
			kept = append(kept, r)
		}
	}
	h.recommendations = append(kept, hpaRecord{now, proposed}) //nolint:gocritic // kept filters h.recommendations in place
	if proposed >= current {
		return proposed
	}
	return min(current, highest)
}

// rateLimit applies the default behavior policies and min/max.
func (h *HPA) rateLimit(now time.Time, current, desired int32) int32 {
	period := 15 * time.Second
	var added, removed int32
	for _, e := range h.events {
		if now.Sub(e.at) < period {
			if e.value > 0 {
				added += e.value
			} else {
				removed -= e.value
			}
		}
	}
	start := current - added + removed
	if desired > current {
		limit := max(int32(math.Ceil(float64(start)*2)), start+4) // 100% or 4 pods
		desired = min(desired, max(limit, current))
	} else if desired < current {
		limit := int32(float64(start) * 0) // 100%: may remove everything
		desired = max(desired, min(limit, current))
	}
	return max(h.cfg.MinReplicas, min(h.cfg.MaxReplicas, desired))
}

// String describes the baseline for reports.
func (h *HPA) String() string {
	return fmt.Sprintf("%s (sync %v, tolerance %g, scale-down stabilization %v, metric window %v)",
		h.name, h.cfg.SyncPeriod, h.cfg.Tolerance, h.cfg.ScaleDownStabilization, h.cfg.MetricWindow)
}
