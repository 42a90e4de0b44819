package autoscaling

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
)

// verticalMode is the Waypoint's vertical mode in the policy's terms.
func verticalMode(wp *meshv1alpha1.Waypoint) vertical.Mode { return vertical.Mode(wp.VerticalMode()) }

// managed reports whether the autoscaler has anything to do for wp.
func managed(wp *meshv1alpha1.Waypoint) bool {
	return wp.HorizontalEnabled() || wp.VerticalMode() != meshv1alpha1.VerticalOff
}

// CRD defaults of the rate rules, used for fields left out of a partly
// written scaleUp/scaleDown (the API server defaults only an absent block).
var (
	defaultScaleUp   = rules{percent: 1000, pods: 10, period: time.Second}
	defaultScaleDown = rules{percent: 50, pods: 10, period: 60 * time.Second, stabilization: 300 * time.Second}
)

type rules struct {
	percent, pods int32
	period        time.Duration
	stabilization time.Duration
}

// HorizontalConfig translates spec.autoscaling.horizontal into the policy's
// Config. Fields left at zero keep the policy defaults, so a Waypoint built
// in Go without API-server defaulting still gets a sane policy. The result
// is validated.
func HorizontalConfig(h *meshv1alpha1.HorizontalAutoscaling) (horizontal.Config, error) {
	if h == nil {
		h = &meshv1alpha1.HorizontalAutoscaling{}
	}
	metric := horizontal.MetricConcurrency
	if h.Metric != "" {
		metric = horizontal.Metric(h.Metric)
	}
	target := float64(100)
	if h.Target > 0 {
		target = float64(h.Target)
	}
	cfg := horizontal.DefaultConfig(metric, target)
	if h.TargetUtilizationPercent > 0 {
		cfg.TargetUtilization = float64(h.TargetUtilizationPercent) / 100
	}
	cfg.MinReplicas, cfg.MaxReplicas = h.ReplicaBounds()
	if h.MaxReplicas > 0 {
		// ReplicaBounds lifts a maxReplicas below minReplicas to the floor
		// (the Deployment then runs minReplicas); the policy takes the raw
		// value so the contradiction is reported as InvalidConfig.
		cfg.MaxReplicas = h.MaxReplicas
	}
	if h.StableWindow != nil && h.StableWindow.Duration > 0 {
		cfg.StableWindow = h.StableWindow.Duration
	}
	if h.PanicWindow != nil && h.PanicWindow.Duration > 0 {
		cfg.PanicWindow = h.PanicWindow.Duration
		// Burst confirmation is part of the panic window.
		cfg.BurstConfirmation = min(cfg.BurstConfirmation, cfg.PanicWindow)
	}
	if h.PanicThresholdPercent > 0 {
		cfg.PanicThreshold = float64(h.PanicThresholdPercent) / 100
	}
	if up, ok := rateRules(h.ScaleUp, defaultScaleUp); ok {
		cfg.ScaleUp.Policies, cfg.ScaleUp.Select = up, horizontal.SelectMax
	}
	if down, ok := rateRules(h.ScaleDown, defaultScaleDown); ok {
		cfg.ScaleDown.Policies, cfg.ScaleDown.Select = down, horizontal.SelectMax
	}
	if w := h.ScaleDown.StabilizationWindow; w != nil {
		cfg.ScaleDownStabilization = w.Duration
	}
	if err := cfg.Validate(); err != nil {
		return horizontal.Config{}, err
	}
	return cfg, nil
}

// rateRules turns "per period, max(maxPods, maxPercent of current)" into the
// policy's two rate policies with Select Max. ok is false when the block is
// empty (keep the policy defaults).
func rateRules(r meshv1alpha1.ScalingRules, def rules) ([]horizontal.RatePolicy, bool) {
	if r.MaxPercent == nil && r.MaxPods == nil && r.Period == nil {
		return nil, false
	}
	period, percent, pods := def.period, def.percent, def.pods
	if r.Period != nil {
		period = r.Period.Duration
	}
	if r.MaxPercent != nil {
		percent = *r.MaxPercent
	}
	if r.MaxPods != nil {
		pods = *r.MaxPods
	}
	return []horizontal.RatePolicy{
		{Type: horizontal.PolicyPercent, Value: percent, Period: period},
		{Type: horizontal.PolicyPods, Value: pods, Period: period},
	}, true
}

// RecommenderConfig translates spec.autoscaling.vertical min/max allowed.
func RecommenderConfig(v *meshv1alpha1.VerticalAutoscaling) (vertical.RecommenderConfig, error) {
	cfg := vertical.DefaultRecommenderConfig()
	if v == nil {
		return cfg, nil
	}
	var err error
	if cfg.MinAllowed, err = bounds(v.MinAllowed, cfg.MinAllowed, "minAllowed"); err != nil {
		return cfg, err
	}
	if cfg.MaxAllowed, err = bounds(v.MaxAllowed, cfg.MaxAllowed, "maxAllowed"); err != nil {
		return cfg, err
	}
	// A maxAllowed below the default floor lowers the floor, unless the
	// spec set the floor itself (then the CRD rejects the inversion).
	if max := cfg.MaxAllowed.MilliCPU; max > 0 && (v.MinAllowed == nil || v.MinAllowed.CPU == "") {
		cfg.MinAllowed.MilliCPU = min(cfg.MinAllowed.MilliCPU, max)
	}
	if max := cfg.MaxAllowed.MemoryBytes; max > 0 && (v.MinAllowed == nil || v.MinAllowed.Memory == "") {
		cfg.MinAllowed.MemoryBytes = min(cfg.MinAllowed.MemoryBytes, max)
	}
	return cfg, cfg.Validate()
}

// UpdatePolicy translates spec.autoscaling.vertical mode and minInterval.
func UpdatePolicy(v *meshv1alpha1.VerticalAutoscaling, mode vertical.Mode) vertical.UpdatePolicy {
	p := vertical.DefaultUpdatePolicy(mode)
	if v != nil && v.MinInterval != nil {
		p.MinInterval = v.MinInterval.Duration
	}
	return p
}

func bounds(b *meshv1alpha1.ResourceBounds, def vertical.Resources, field string) (vertical.Resources, error) {
	if b == nil {
		return def, nil
	}
	out := def
	if b.CPU != "" {
		q, err := resource.ParseQuantity(b.CPU)
		if err != nil {
			return def, fmt.Errorf("autoscaling.vertical.%s.cpu: %w", field, err)
		}
		out.MilliCPU = q.MilliValue()
	}
	if b.Memory != "" {
		q, err := resource.ParseQuantity(b.Memory)
		if err != nil {
			return def, fmt.Errorf("autoscaling.vertical.%s.memory: %w", field, err)
		}
		out.MemoryBytes = q.Value()
	}
	return out, nil
}
