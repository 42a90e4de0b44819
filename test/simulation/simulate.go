package simulation

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Setup is the environment shared by every scaler in a comparison.
type Setup struct {
	// Target is the per-replica load capacity should follow (the policy's
	// target times its utilization), used to score provisioning.
	Target float64
	// Overload is the per-replica load above which a replica is overloaded
	// (the policy's TargetPerReplica).
	Overload    float64
	MinReplicas int32
	MaxReplicas int32
	// ReadyDelay is how long a new replica takes to become ready.
	ReadyDelay time.Duration
}

// Event is one change of desired replicas.
type Event struct {
	At       time.Duration
	From, To int32
}

// Second is the state after one simulated second.
type Second struct {
	Desired, Ready, Need int32
}

// Result scores one scaler on one trace.
type Result struct {
	Scaler, Trace string
	Events        []Event
	Timeline      []Second
	// Reaction is the time from the trace's step until desired replicas
	// reached what the new load needs; ReadyReaction until that many were
	// ready; NearReaction until desired covered 90% of the new load (two
	// noisy samples cannot pin the level down closer, and a scaler with a
	// tolerance may settle just short). All are negative when the trace
	// has no step or it was never reached.
	Reaction, ReadyReaction, NearReaction time.Duration
	// OverProvisioned sums replicas above need, per second;
	// UnderProvisioned sums ready replicas short of need, per second.
	OverProvisioned, UnderProvisioned float64
	// OverloadedSeconds counts seconds in which ready replicas carried
	// more than Setup.Overload each (or none was ready under load).
	OverloadedSeconds int
}

// need is the replica count the noise-free load calls for.
func (s *Setup) need(mean float64) int32 {
	n := int32(math.Ceil(mean/s.Target - 1e-9))
	return max(s.MinReplicas, min(s.MaxReplicas, n))
}

func (s *Setup) validate() error {
	if !(s.Target > 0) || !(s.Overload >= s.Target) || s.MinReplicas < 1 || s.MaxReplicas < s.MinReplicas || s.ReadyDelay < 0 {
		return errors.New("setup needs target > 0, overload >= target, 1 <= min <= max and a non-negative ready delay")
	}
	return nil
}

var simStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Run replays trace through scaler, starting at the replica count the
// first second needs, all ready.
func Run(setup Setup, trace Trace, scaler Scaler) (Result, error) {
	if err := setup.validate(); err != nil {
		return Result{}, err
	}
	if len(trace.Points) == 0 {
		return Result{}, fmt.Errorf("trace %q is empty", trace.Name)
	}
	res := Result{Scaler: scaler.Name(), Trace: trace.Name}
	c := newCluster(setup.need(trace.Points[0].Mean), setup.ReadyDelay, simStart)
	perReplica := make([]float64, 0, setup.MaxReplicas)
	res.Timeline = make([]Second, 0, len(trace.Points))
	for i, p := range trace.Points {
		elapsed := time.Duration(i) * time.Second
		now := simStart.Add(elapsed)
		ready := c.ready(now)
		perReplica = perReplica[:0]
		for range ready {
			perReplica = append(perReplica, p.Observed/float64(ready))
		}
		if (ready == 0 && p.Observed > 0) || (ready > 0 && p.Observed/float64(ready) > setup.Overload) {
			res.OverloadedSeconds++
		}
		current := c.replicas()
		desired, err := scaler.Tick(Observation{Now: now, PerReplica: perReplica, ReadyReplicas: ready, CurrentReplicas: current})
		if err != nil {
			return res, fmt.Errorf("%s on %s at %v: %w", scaler.Name(), trace.Name, elapsed, err)
		}
		if desired != current {
			res.Events = append(res.Events, Event{At: elapsed, From: current, To: desired})
			c.scale(now, desired)
		}
		need := setup.need(p.Mean)
		res.Timeline = append(res.Timeline, Second{Desired: desired, Ready: ready, Need: need})
		res.OverProvisioned += float64(max(0, desired-need))
		res.UnderProvisioned += float64(max(0, need-ready))
	}
	want := setup.need(trace.StepTo)
	res.Reaction = reaction(trace, res.Timeline, func(s Second) bool { return s.Desired >= want })
	res.ReadyReaction = reaction(trace, res.Timeline, func(s Second) bool { return s.Ready >= want })
	near := setup.need(0.9 * trace.StepTo)
	res.NearReaction = reaction(trace, res.Timeline, func(s Second) bool { return s.Desired >= near })
	return res, nil
}

// reaction is how long after the trace's step reached(second) first held.
func reaction(trace Trace, timeline []Second, reached func(Second) bool) time.Duration {
	if trace.StepAt < 0 {
		return -1
	}
	start := int(trace.StepAt / time.Second)
	for i := start; i < len(timeline); i++ {
		if reached(timeline[i]) {
			return time.Duration(i-start) * time.Second
		}
	}
	return -1
}

// EventsIn counts scale events within [from, to).
func (r *Result) EventsIn(from, to time.Duration) int {
	n := 0
	for _, e := range r.Events {
		if e.At >= from && e.At < to {
			n++
		}
	}
	return n
}
