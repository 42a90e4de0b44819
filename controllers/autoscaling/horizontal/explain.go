package horizontal

import (
	"fmt"
	"strings"
)

// explain writes the human message of a Decision: the inputs, the rule
// that decided and any limit that applied.
func (a *Autoscaler) explain(d *Decision, in Input, stableBuckets, panicBuckets int, raw int32, warm bool) string {
	cfg := &a.cfg
	var b strings.Builder
	fmt.Fprintf(&b, "%s %.4g over the %v stable window (%d s with data) and %.4g over the %v panic window (%d s with data), from %d of %d ready replicas",
		cfg.Metric, d.StableLoad, cfg.StableWindow, stableBuckets, d.PanicLoad, cfg.PanicWindow, panicBuckets,
		d.ReportingReplicas, in.ReadyReplicas)
	if d.MissingReplicas > 0 {
		fmt.Fprintf(&b, " (%d missing, counted at no less than target)", d.MissingReplicas)
	}
	if d.InvalidSamples > 0 {
		fmt.Fprintf(&b, " (%d invalid samples ignored)", d.InvalidSamples)
	}
	fmt.Fprintf(&b, "; target %.4g per replica (%.4g at %.0f%% utilization): stable window asks %d, panic window %d. ",
		cfg.effectiveTarget(), cfg.TargetPerReplica, cfg.TargetUtilization*100, d.StableReplicas, d.PanicReplicas)
	switch d.Reason {
	case ReasonPanic:
		fmt.Fprintf(&b, "Panic mode (panic-window load reached %.0f%% of what the ready replicas carry at target): scaling up only, to %d", cfg.PanicThreshold*100, raw)
	case ReasonWithinTolerance:
		fmt.Fprintf(&b, "Stable load is within the tolerance (+%.0f%%/-%.0f%%) of the capacity of %d replicas: no change",
			cfg.ScaleUp.Tolerance*100, cfg.ScaleDown.Tolerance*100, in.CurrentReplicas)
	case ReasonScaleUp:
		fmt.Fprintf(&b, "Stable window: scale up from %d to %d", in.CurrentReplicas, raw)
	case ReasonScaleDown:
		fmt.Fprintf(&b, "Stable window: scale down from %d to %d", in.CurrentReplicas, raw)
	case ReasonStartSafe:
		if stableBuckets < bucketsIn(cfg.PanicWindow) {
			fmt.Fprintf(&b, "Only %d s of data since start (warm-up or manager restart): holding %d until the panic window is full; only a burst can scale up", stableBuckets, in.CurrentReplicas)
		} else {
			fmt.Fprintf(&b, "History is shorter than the %v stable window (warm-up or manager restart): not scaling below the current %d", cfg.StableWindow, in.CurrentReplicas)
		}
	case ReasonStabilizing:
		fmt.Fprintf(&b, "Stable window asks %d, but scale-down is stabilized to the highest recommendation of the last %v: %d", raw, cfg.ScaleDownStabilization, d.Recommended)
	}
	if d.Limited {
		fmt.Fprintf(&b, "; limited by %s to %d", d.LimitReason, d.DesiredReplicas)
	}
	if !warm && d.Reason != ReasonStartSafe {
		fmt.Fprintf(&b, " (warming up: no scale-down before %v of history)", cfg.StableWindow)
	}
	return b.String()
}
