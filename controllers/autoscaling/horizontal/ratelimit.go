package horizontal

import (
	"math"
	"time"
)

// scaleEvent is one change of the replica count the policy asked for.
type scaleEvent struct {
	at    time.Time
	delta int32
}

// scaleHistory remembers recent scale events so rate policies can be
// evaluated over sliding periods, as the HPA does. It keeps only what the
// longest period needs, reusing its backing array.
type scaleHistory struct {
	events []scaleEvent
	keep   time.Duration
}

func (h *scaleHistory) add(at time.Time, delta int32) {
	h.prune(at)
	h.events = append(h.events, scaleEvent{at: at, delta: delta})
}

func (h *scaleHistory) prune(now time.Time) {
	drop := 0
	for drop < len(h.events) && now.Sub(h.events[drop].at) >= h.keep {
		drop++
	}
	if drop > 0 {
		n := copy(h.events, h.events[drop:])
		h.events = h.events[:n]
	}
}

// changeSince returns the replicas added and removed by events newer
// than now-period.
func (h *scaleHistory) changeSince(now time.Time, period time.Duration) (added, removed int32) {
	for _, e := range h.events {
		if now.Sub(e.at) >= period {
			continue
		}
		if e.delta > 0 {
			added += e.delta
		} else {
			removed -= e.delta
		}
	}
	return added, removed
}

// periodStart is the replica count at the start of the policy's period,
// the base every policy is measured against (as in the HPA).
func periodStart(h *scaleHistory, now time.Time, p RatePolicy, current int32) int32 {
	added, removed := h.changeSince(now, p.Period)
	return current - added + removed
}

// scaleUpLimit is the highest replica count the scale-up rules allow now.
func scaleUpLimit(rules *ScalingRules, h *scaleHistory, now time.Time, current int32) int32 {
	if rules.Select == SelectDisabled || len(rules.Policies) == 0 {
		return current
	}
	limit, first := int32(0), true
	for _, p := range rules.Policies {
		start := periodStart(h, now, p, current)
		var allowed int32
		switch p.Type {
		case PolicyPods:
			allowed = start + p.Value
		case PolicyPercent:
			// Round up so a small count can always grow.
			allowed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if first || (rules.Select == SelectMax && allowed > limit) || (rules.Select == SelectMin && allowed < limit) {
			limit, first = allowed, false
		}
	}
	return max(limit, current)
}

// scaleDownLimit is the lowest replica count the scale-down rules allow now.
func scaleDownLimit(rules *ScalingRules, h *scaleHistory, now time.Time, current int32) int32 {
	if rules.Select == SelectDisabled || len(rules.Policies) == 0 {
		return current
	}
	limit, first := int32(0), true
	for _, p := range rules.Policies {
		start := periodStart(h, now, p, current)
		var allowed int32
		switch p.Type {
		case PolicyPods:
			allowed = start - p.Value
		case PolicyPercent:
			allowed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		// Max picks the policy that removes the most, i.e. the lowest count.
		if first || (rules.Select == SelectMax && allowed < limit) || (rules.Select == SelectMin && allowed > limit) {
			limit, first = allowed, false
		}
	}
	return min(max(limit, 0), current)
}
