package simulation

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
)

func runWayfabric(t *testing.T, cfg horizontal.Config, setup Setup, tr Trace) Result {
	t.Helper()
	wf, err := NewWayfabric(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(setup, tr, wf)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The first figure: a load step reaches the new desired replicas
// within 2 s of simulated time. On a clean step that is the exact count the
// new load needs. With ±10% noise no policy can know the new level to
// better than the noise from two samples, so there it must provision for
// 90% of the new load within 2 s and reach the full count soon after.
func TestStepReachesNewDesiredWithinTwoSeconds(t *testing.T) {
	setup := StandardSetup()
	for _, amplitude := range []float64{0, 0.1} {
		for _, factor := range []float64{2.5, 3, 5, 10} {
			for _, base := range []float64{7, 20, 35} {
				for seed := uint64(1); seed <= 4; seed++ {
					name := fmt.Sprintf("±%.0f%% x%g from %g seed %d", amplitude*100, factor, base, seed)
					t.Run(name, func(t *testing.T) {
						tr := Step(base, factor, 300*time.Second, 8*time.Minute, amplitude, seed)
						res := runWayfabric(t, StandardPolicy(), setup, tr)
						want := setup.need(tr.StepTo)
						reaction, limit := res.Reaction, 2*time.Second
						if amplitude > 0 {
							if res.Reaction < 0 || res.Reaction > 15*time.Second {
								t.Fatalf("reached %d replicas after %v, want within 15s (events %v)", want, res.Reaction, res.Events)
							}
							reaction = res.NearReaction
						}
						if reaction < 0 || reaction > limit {
							t.Fatalf("reached %d replicas (or 90%% with noise) after %v, want within %v (events %v)", want, reaction, limit, res.Events)
						}
					})
				}
			}
		}
	}
}

// The second figure: no move beyond the rate limits. The check is
// independent of the policy's own bookkeeping: for every second and every
// policy, the count may not exceed what the policy allows relative to the
// count one period earlier.
func TestRateLimitsAreNeverExceeded(t *testing.T) {
	setup := StandardSetup()
	tight := StandardPolicy()
	tight.ScaleUp = horizontal.ScalingRules{Select: horizontal.SelectMax, Policies: []horizontal.RatePolicy{
		{Type: horizontal.PolicyPercent, Value: 100, Period: 10 * time.Second},
		{Type: horizontal.PolicyPods, Value: 2, Period: 10 * time.Second},
	}}
	tight.ScaleDown = horizontal.ScalingRules{Select: horizontal.SelectMin, Policies: []horizontal.RatePolicy{
		{Type: horizontal.PolicyPercent, Value: 20, Period: 30 * time.Second},
		{Type: horizontal.PolicyPods, Value: 3, Period: 30 * time.Second},
	}}
	tight.ScaleDownStabilization = 0
	for _, cfg := range []horizontal.Config{StandardPolicy(), tight} {
		for _, tr := range StandardTraces(7) {
			t.Run(tr.Name, func(t *testing.T) {
				res := runWayfabric(t, cfg, setup, tr)
				if len(res.Events) == 0 && tr.StepAt >= 0 {
					t.Fatal("no scale events on a step: the check would prove nothing")
				}
				if err := checkRates(cfg, res.Timeline); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// checkRates verifies every second of a timeline against cfg's policies.
func checkRates(cfg horizontal.Config, timeline []Second) error {
	for i, s := range timeline {
		before := func(p horizontal.RatePolicy) int32 {
			j := i - int(p.Period/time.Second)
			if j < 0 {
				return timeline[0].Desired // start of the run: the initial count
			}
			return timeline[j].Desired
		}
		up, down := allowedRange(cfg, before)
		if s.Desired > max(up, cfg.MinReplicas) {
			return fmt.Errorf("second %d: %d replicas, scale-up policies allow at most %d", i, s.Desired, up)
		}
		if s.Desired < min(down, cfg.MaxReplicas) {
			return fmt.Errorf("second %d: %d replicas, scale-down policies allow at least %d", i, s.Desired, down)
		}
		if s.Desired < cfg.MinReplicas || s.Desired > cfg.MaxReplicas {
			return fmt.Errorf("second %d: %d replicas outside [%d, %d]", i, s.Desired, cfg.MinReplicas, cfg.MaxReplicas)
		}
	}
	return nil
}

func allowedRange(cfg horizontal.Config, before func(horizontal.RatePolicy) int32) (up, down int32) {
	pick := func(sel horizontal.SelectPolicy, a, b int32, wantHigh bool) int32 {
		if (sel == horizontal.SelectMax) == wantHigh {
			return max(a, b)
		}
		return min(a, b)
	}
	up, down = -1, -1
	for _, p := range cfg.ScaleUp.Policies {
		start := float64(before(p))
		v := int32(start) + p.Value
		if p.Type == horizontal.PolicyPercent {
			v = int32(math.Ceil(start * (1 + float64(p.Value)/100)))
		}
		if up < 0 {
			up = v
		} else {
			up = pick(cfg.ScaleUp.Select, up, v, true)
		}
	}
	for _, p := range cfg.ScaleDown.Policies {
		start := float64(before(p))
		v := int32(start) - p.Value
		if p.Type == horizontal.PolicyPercent {
			v = int32(start * (1 - float64(p.Value)/100))
		}
		if down < 0 {
			down = v
		} else {
			down = pick(cfg.ScaleDown.Select, down, v, false)
		}
	}
	return up, down
}

// The third figure: at most a handful (5) of scale events in 30
// simulated minutes of noisy steady load, at loads chosen to sit on and
// between replica boundaries.
func TestNoisySteadyLoadMakesAtMostAHandfulOfEvents(t *testing.T) {
	setup := StandardSetup()
	for _, amplitude := range []float64{0.2, 0.3} {
		for _, mean := range []float64{30, 100, 104, 143, 250} {
			for seed := uint64(1); seed <= 4; seed++ {
				t.Run(fmt.Sprintf("±%.0f%% mean %g seed %d", amplitude*100, mean, seed), func(t *testing.T) {
					tr := NoisySteady(mean, 30*time.Minute, amplitude, seed)
					res := runWayfabric(t, StandardPolicy(), setup, tr)
					if n := len(res.Events); n > 5 {
						t.Fatalf("%d scale events in 30 minutes, want at most 5: %v", n, res.Events)
					}
				})
			}
		}
	}
}

// Overload must be short-lived: after a step the ready replicas carry
// the new load within the ready delay plus a few seconds.
func TestStepOverloadIsShort(t *testing.T) {
	setup := StandardSetup()
	res := runWayfabric(t, StandardPolicy(), setup, Step(20, 10, 300*time.Second, 10*time.Minute, 0.1, 3))
	if limit := int((setup.ReadyDelay + 3*time.Second) / time.Second); res.OverloadedSeconds > limit {
		t.Fatalf("overloaded for %d s after a x10 step, want at most %d", res.OverloadedSeconds, limit)
	}
}

func TestRunRejectsBadSetup(t *testing.T) {
	wf, err := NewWayfabric(StandardPolicy())
	if err != nil {
		t.Fatal(err)
	}
	bad := StandardSetup()
	bad.MinReplicas = 0
	if _, err := Run(bad, NoisySteady(10, time.Minute, 0, 1), wf); err == nil {
		t.Fatal("Run accepted min replicas 0")
	}
	if _, err := Run(StandardSetup(), Trace{Name: "empty"}, wf); err == nil {
		t.Fatal("Run accepted an empty trace")
	}
}

// The rate checker must be able to fail: a timeline produced with the
// default (10x) policy breaks a 2-pods-per-10s policy.
func TestRateCheckerDetectsViolations(t *testing.T) {
	setup := StandardSetup()
	res := runWayfabric(t, StandardPolicy(), setup, Step(20, 10, 120*time.Second, 5*time.Minute, 0, 1))
	slow := StandardPolicy()
	slow.ScaleUp.Policies = []horizontal.RatePolicy{{Type: horizontal.PolicyPods, Value: 2, Period: 10 * time.Second}}
	if err := checkRates(slow, res.Timeline); err == nil {
		t.Fatal("checkRates accepted a x10 jump under a 2-pods-per-10s policy")
	}
}
