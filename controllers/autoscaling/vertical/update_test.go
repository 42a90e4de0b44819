package vertical

import (
	"strings"
	"testing"
	"time"
)

func TestDecideUpdate(t *testing.T) {
	rec := &Recommendation{
		Target:     Resources{MilliCPU: 500, MemoryBytes: 512 * mebibyte},
		LowerBound: Resources{MilliCPU: 400, MemoryBytes: 400 * mebibyte},
		UpperBound: Resources{MilliCPU: 800, MemoryBytes: 800 * mebibyte},
		Confidence: 1, Samples: 1000,
	}
	now := t0.Add(24 * time.Hour)
	small := Resources{MilliCPU: 200, MemoryBytes: 512 * mebibyte} // cpu below lower bound
	tests := []struct {
		name      string
		policy    UpdatePolicy
		in        UpdateInput
		apply     bool
		reason    UpdateReason
		inMessage string
	}{
		{"off", DefaultUpdatePolicy(ModeOff), UpdateInput{Now: now, Current: small, Recommendation: rec}, false, ReasonModeOff, "off"},
		{"no recommendation", DefaultUpdatePolicy(ModeInPlace), UpdateInput{Now: now, Current: small}, false, ReasonNoRecommendation, "no usage samples"},
		{"within bounds", DefaultUpdatePolicy(ModeInPlace), UpdateInput{Now: now, Current: Resources{MilliCPU: 600, MemoryBytes: 600 * mebibyte}, Recommendation: rec}, false, ReasonWithinBounds, "within the recommended range"},
		{"recommend only", DefaultUpdatePolicy(ModeRecommend), UpdateInput{Now: now, Current: small, Recommendation: rec}, false, ReasonRecommendOnly, "cpu request below the lower bound"},
		{"in place", DefaultUpdatePolicy(ModeInPlace), UpdateInput{Now: now, Current: small, Recommendation: rec}, true, ReasonResizeInPlace, "in-place resize"},
		{"rolling", DefaultUpdatePolicy(ModeRolling), UpdateInput{Now: now, Current: small, Recommendation: rec}, true, ReasonRollingUpdate, "rolling update"},
		{"above upper bound", DefaultUpdatePolicy(ModeRolling), UpdateInput{Now: now, Current: Resources{MilliCPU: 600, MemoryBytes: 2048 * mebibyte}, Recommendation: rec}, true, ReasonRollingUpdate, "memory request above the upper bound"},
		{"no requests yet", DefaultUpdatePolicy(ModeRolling), UpdateInput{Now: now, Recommendation: rec}, true, ReasonRollingUpdate, "below the lower bound"},
		{"busy", DefaultUpdatePolicy(ModeInPlace), UpdateInput{Now: now, Current: small, Recommendation: rec, Busy: true}, false, ReasonBusy, "deferred"},
		{"too soon", DefaultUpdatePolicy(ModeInPlace), UpdateInput{Now: now, Current: small, Recommendation: rec, LastChange: now.Add(-5 * time.Minute)}, false, ReasonTooSoon, "minimum interval is 15m0s"},
		{"interval passed", DefaultUpdatePolicy(ModeInPlace), UpdateInput{Now: now, Current: small, Recommendation: rec, LastChange: now.Add(-15 * time.Minute)}, true, ReasonResizeInPlace, "applying the target"},
		{"change too small", UpdatePolicy{Mode: ModeInPlace, MinChange: 0.2}, UpdateInput{Now: now, Current: Resources{MilliCPU: 450, MemoryBytes: 512 * mebibyte}, Recommendation: &Recommendation{
			Target: Resources{MilliCPU: 500, MemoryBytes: 512 * mebibyte}, LowerBound: Resources{MilliCPU: 480, MemoryBytes: 500 * mebibyte}, UpperBound: Resources{MilliCPU: 520, MemoryBytes: 520 * mebibyte},
		}}, false, ReasonChangeTooSmall, "below the 20% minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecideUpdate(tt.policy, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Apply != tt.apply || d.Reason != tt.reason {
				t.Fatalf("got apply=%v reason=%s, want apply=%v reason=%s (%s)", d.Apply, d.Reason, tt.apply, tt.reason, d.Message)
			}
			if !strings.Contains(d.Message, tt.inMessage) {
				t.Fatalf("message %q does not contain %q", d.Message, tt.inMessage)
			}
			if tt.in.Recommendation != nil && tt.policy.Mode != ModeOff && d.NewRequests != tt.in.Recommendation.Target {
				t.Fatalf("NewRequests %s, want the target %s", d.NewRequests, tt.in.Recommendation.Target)
			}
		})
	}
}

func TestDecideUpdateTooSoonSaysWhen(t *testing.T) {
	last := t0
	d, err := DecideUpdate(DefaultUpdatePolicy(ModeRolling), UpdateInput{
		Now: t0.Add(time.Minute), LastChange: last, Current: Resources{MilliCPU: 10, MemoryBytes: mebibyte},
		Recommendation: &Recommendation{Target: Resources{MilliCPU: 500, MemoryBytes: 300 * mebibyte}, LowerBound: Resources{MilliCPU: 400, MemoryBytes: 250 * mebibyte}, UpperBound: Resources{MilliCPU: 900, MemoryBytes: 900 * mebibyte}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := last.Add(DefaultMinInterval); !d.NextAllowed.Equal(want) {
		t.Fatalf("NextAllowed %v, want %v", d.NextAllowed, want)
	}
}

func TestDecideUpdateRejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		policy UpdatePolicy
		in     UpdateInput
		want   string
	}{
		{"unknown mode", UpdatePolicy{Mode: "Auto"}, UpdateInput{Now: t0}, `mode "Auto" is not supported`},
		{"negative interval", UpdatePolicy{Mode: ModeRolling, MinInterval: -time.Second}, UpdateInput{Now: t0}, "minInterval must not be negative"},
		{"no time", DefaultUpdatePolicy(ModeRolling), UpdateInput{}, "time is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecideUpdate(tt.policy, tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// End to end: the recommender's output fed back as the new request is
// inside its own range, so the loop settles instead of oscillating.
func TestAppliedRecommendationIsStable(t *testing.T) {
	r := newRecommender(t, func(c *RecommenderConfig) { c.SampleInterval = 30 * time.Second })
	feed(t, r, t0, 48*time.Hour, 30*time.Second, 2, func(int, time.Time) (float64, float64) { return 0.4, 300 * mebibyte })
	rec, _ := r.Recommendation()
	policy := DefaultUpdatePolicy(ModeInPlace)
	first, err := DecideUpdate(policy, UpdateInput{Now: t0.Add(48 * time.Hour), Current: Resources{MilliCPU: 100, MemoryBytes: 128 * mebibyte}, Recommendation: &rec})
	if err != nil || !first.Apply {
		t.Fatalf("undersized requests not raised: %+v %v", first, err)
	}
	second, err := DecideUpdate(policy, UpdateInput{Now: t0.Add(72 * time.Hour), Current: first.NewRequests, Recommendation: &rec, LastChange: t0.Add(48 * time.Hour)})
	if err != nil || second.Apply || second.Reason != ReasonWithinBounds {
		t.Fatalf("applied recommendation is not stable: %+v %v", second, err)
	}
}
