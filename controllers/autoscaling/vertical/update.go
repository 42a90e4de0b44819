package vertical

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Mode is how recommendations are applied (spec.autoscaling.vertical.mode).
type Mode string

const (
	// ModeOff: no recommendation is computed or applied.
	ModeOff Mode = "Off"
	// ModeRecommend: recommendations go to status only.
	ModeRecommend Mode = "Recommend"
	// ModeInPlace: running pods are resized through pods/resize, one at a
	// time, then the Deployment template is updated to match.
	ModeInPlace Mode = "InPlace"
	// ModeRolling: the Deployment template is updated (zero-downtime
	// rolling update).
	ModeRolling Mode = "Rolling"
)

// UpdatePolicy is the hysteresis around applying a recommendation.
type UpdatePolicy struct {
	Mode Mode
	// MinInterval is the least time between two applied changes.
	MinInterval time.Duration
	// MinChange is the least relative change worth applying (0.1 = 10%),
	// even when the request is outside the recommended range.
	MinChange float64
}

// Defaults of the update policy.
const (
	DefaultMinInterval = 15 * time.Minute
	DefaultMinChange   = 0.1
)

// DefaultUpdatePolicy returns the defaults for a mode.
func DefaultUpdatePolicy(mode Mode) UpdatePolicy {
	return UpdatePolicy{Mode: mode, MinInterval: DefaultMinInterval, MinChange: DefaultMinChange}
}

// Validate reports every problem with the policy in one error.
func (p *UpdatePolicy) Validate() error {
	var errs []error
	switch p.Mode {
	case ModeOff, ModeRecommend, ModeInPlace, ModeRolling:
	default:
		errs = append(errs, fmt.Errorf("mode %q is not supported; use %s, %s, %s or %s", p.Mode, ModeOff, ModeRecommend, ModeInPlace, ModeRolling))
	}
	if p.MinInterval < 0 {
		errs = append(errs, fmt.Errorf("minInterval must not be negative, got %v", p.MinInterval))
	}
	if !(p.MinChange >= 0 && p.MinChange < 10) {
		errs = append(errs, fmt.Errorf("minChange must be between 0 and 10, got %v", p.MinChange))
	}
	return errors.Join(errs...)
}

// UpdateInput is the state the update decision looks at.
type UpdateInput struct {
	Now time.Time
	// Current is the per-replica request in the Deployment template.
	Current        Resources
	Recommendation *Recommendation // nil when there is none yet
	// LastChange is when requests were last changed (zero: never).
	LastChange time.Time
	// Busy defers changes while the Waypoint is scaling in panic mode or
	// rolling out, so a resize never lands in the middle of a burst.
	Busy bool
}

// UpdateReason is the machine-readable rule behind an UpdateDecision.
type UpdateReason string

const (
	ReasonModeOff          UpdateReason = "ModeOff"
	ReasonNoRecommendation UpdateReason = "NoRecommendation"
	ReasonWithinBounds     UpdateReason = "WithinBounds"
	ReasonChangeTooSmall   UpdateReason = "ChangeTooSmall"
	ReasonRecommendOnly    UpdateReason = "RecommendOnly"
	ReasonBusy             UpdateReason = "Busy"
	ReasonTooSoon          UpdateReason = "TooSoon"
	ReasonResizeInPlace    UpdateReason = "ResizeInPlace"
	ReasonRollingUpdate    UpdateReason = "RollingUpdate"
)

// UpdateDecision says whether to change the requests, to what, and why.
type UpdateDecision struct {
	Apply bool
	// NewRequests is the recommended target whenever a recommendation
	// exists (also when not applied, for status); Apply says whether to
	// write it now.
	NewRequests Resources
	Reason      UpdateReason
	Message     string
	// NextAllowed is the earliest time a change may be applied, when
	// MinInterval is what holds it back.
	NextAllowed time.Time
}

// DecideUpdate applies the update policy to the current requests and
// recommendation. It fails only on an invalid policy or a missing time.
func DecideUpdate(p UpdatePolicy, in UpdateInput) (UpdateDecision, error) {
	if err := p.Validate(); err != nil {
		return UpdateDecision{}, fmt.Errorf("invalid vertical update policy: %w", err)
	}
	if in.Now.IsZero() {
		return UpdateDecision{}, errors.New("update input time is not set")
	}
	if p.Mode == ModeOff {
		return UpdateDecision{Reason: ReasonModeOff, Message: "vertical autoscaling is off"}, nil
	}
	rec := in.Recommendation
	if rec == nil {
		return UpdateDecision{Reason: ReasonNoRecommendation, Message: "no usage samples yet: keeping requests " + in.Current.String()}, nil
	}
	d := UpdateDecision{NewRequests: rec.Target}
	inputs := fmt.Sprintf("current requests %s; recommended target %s, range [%s] to [%s] (confidence %.2f from %d samples)",
		in.Current, rec.Target, rec.LowerBound, rec.UpperBound, rec.Confidence, rec.Samples)

	outside := outsideRange(in.Current, rec)
	if outside == "" {
		d.Reason, d.Message = ReasonWithinBounds, inputs+": within the recommended range, no change"
		return d, nil
	}
	change := relativeChange(in.Current, rec.Target)
	if change < p.MinChange {
		d.Reason = ReasonChangeTooSmall
		d.Message = fmt.Sprintf("%s: %s, but the change (%.0f%%) is below the %.0f%% minimum", inputs, outside, change*100, p.MinChange*100)
		return d, nil
	}
	switch {
	case p.Mode == ModeRecommend:
		d.Reason = ReasonRecommendOnly
		d.Message = fmt.Sprintf("%s: %s; mode Recommend, so only status is updated", inputs, outside)
	case in.Busy:
		d.Reason = ReasonBusy
		d.Message = fmt.Sprintf("%s: %s; deferred while the Waypoint is scaling in panic mode or rolling out", inputs, outside)
	case !in.LastChange.IsZero() && in.Now.Sub(in.LastChange) < p.MinInterval:
		d.Reason, d.NextAllowed = ReasonTooSoon, in.LastChange.Add(p.MinInterval)
		d.Message = fmt.Sprintf("%s: %s; last change was %v ago, the minimum interval is %v (next at %s)",
			inputs, outside, in.Now.Sub(in.LastChange).Round(time.Second), p.MinInterval, d.NextAllowed.Format(time.RFC3339))
	default:
		d.Apply = true
		d.Reason = ReasonRollingUpdate
		how := "rolling update of the Deployment"
		if p.Mode == ModeInPlace {
			d.Reason, how = ReasonResizeInPlace, "in-place resize of each replica, then the Deployment template"
		}
		d.Message = fmt.Sprintf("%s: %s; applying the target by %s", inputs, outside, how)
	}
	return d, nil
}

// outsideRange describes which requests are outside [lower, upper], or
// returns "" when both are inside.
func outsideRange(cur Resources, rec *Recommendation) string {
	var parts []string
	check := func(name string, v, lo, hi int64) {
		switch {
		case v < lo:
			parts = append(parts, name+" request below the lower bound")
		case v > hi:
			parts = append(parts, name+" request above the upper bound")
		}
	}
	check("cpu", cur.MilliCPU, rec.LowerBound.MilliCPU, rec.UpperBound.MilliCPU)
	check("memory", cur.MemoryBytes, rec.LowerBound.MemoryBytes, rec.UpperBound.MemoryBytes)
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	default:
		return parts[0] + " and " + parts[1]
	}
}

// relativeChange is the larger relative difference of CPU and memory; a
// missing current request counts as an infinite change.
func relativeChange(cur, target Resources) float64 {
	rel := func(from, to int64) float64 {
		if from <= 0 {
			if to == 0 {
				return 0
			}
			return math.Inf(1)
		}
		return math.Abs(float64(to-from)) / float64(from)
	}
	return max(rel(cur.MilliCPU, target.MilliCPU), rel(cur.MemoryBytes, target.MemoryBytes))
}
