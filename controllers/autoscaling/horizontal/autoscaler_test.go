package horizontal

import (
	"math"
	"strings"
	"testing"
	"time"
)

// driver ticks an Autoscaler once a second. Replicas become ready at once
// and share the total load evenly, so each test controls the load exactly.
type driver struct {
	t       *testing.T
	a       *Autoscaler
	now     time.Time
	current int32
}

func newDriver(t *testing.T, cfg Config, current int32) *driver {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &driver{t: t, a: a, now: t0, current: current}
}

// tick reports totalLoad spread over the current replicas and applies
// the decision.
func (d *driver) tick(totalLoad float64) Decision {
	d.t.Helper()
	samples := make([]Sample, d.current)
	for i := range samples {
		per := totalLoad / float64(d.current)
		samples[i] = Sample{Concurrency: per, RequestsPerSecond: per}
	}
	dec := d.decide(Input{Samples: samples, ReadyReplicas: d.current})
	return dec
}

func (d *driver) decide(in Input) Decision {
	d.t.Helper()
	d.now = d.now.Add(time.Second)
	in.Now, in.CurrentReplicas = d.now, d.current
	dec, err := d.a.Decide(in)
	if err != nil {
		d.t.Fatalf("Decide at %v: %v", d.now.Sub(t0), err)
	}
	if dec.Message == "" || dec.Reason == "" {
		d.t.Fatalf("decision without explanation: %+v", dec)
	}
	d.current = dec.DesiredReplicas
	return dec
}

// run ticks n times at a constant load and returns the last decision.
func (d *driver) run(n int, totalLoad float64) Decision {
	d.t.Helper()
	var dec Decision
	for range n {
		dec = d.tick(totalLoad)
	}
	return dec
}

func testConfig() Config {
	cfg := DefaultConfig(MetricConcurrency, 10) // 7 per replica at 70%
	cfg.MaxReplicas = 100
	return cfg
}

func TestSteadyLoadAtTargetKeepsReplicas(t *testing.T) {
	d := newDriver(t, testConfig(), 4)
	for i := range 600 {
		dec := d.tick(28) // exactly 4 x 7
		if dec.DesiredReplicas != 4 {
			t.Fatalf("tick %d: desired %d, want 4 (%s)", i, dec.DesiredReplicas, dec.Message)
		}
	}
}

func TestStepTimesTenReachesNewCountWithinTwoSeconds(t *testing.T) {
	d := newDriver(t, testConfig(), 3)
	d.run(120, 21) // 3 replicas at target
	want := replicasFor(210, 7)
	var reached int
	for i := 1; i <= 5; i++ {
		dec := d.tick(210)
		if !dec.Panic {
			t.Fatalf("second %d after the step: not in panic mode (%s)", i, dec.Message)
		}
		if dec.DesiredReplicas >= want {
			reached = i
			break
		}
	}
	if reached == 0 || reached > 2 {
		t.Fatalf("x10 step reached %d replicas after %d s, want within 2 s", want, reached)
	}
}

func TestPanicNeverScalesDownAndEndsAfterStableWindow(t *testing.T) {
	d := newDriver(t, testConfig(), 2)
	d.run(120, 14)
	peak := d.run(3, 140).DesiredReplicas
	// The burst ends; panic mode holds the peak for a stable window.
	for i := range 55 {
		dec := d.tick(14)
		if dec.DesiredReplicas < peak {
			t.Fatalf("scaled down to %d during panic mode, %d s after the burst (%s)", dec.DesiredReplicas, i+1, dec.Message)
		}
	}
	var left bool
	for range 30 {
		if !d.tick(14).Panic {
			left = true
			break
		}
	}
	if !left {
		t.Fatal("still in panic mode long after the stable window")
	}
}

func TestScaleDownWaitsForStabilization(t *testing.T) {
	cfg := testConfig()
	d := newDriver(t, cfg, 10)
	d.run(120, 70)
	var firstDown time.Duration
	for i := 1; i <= 600; i++ {
		dec := d.tick(14)
		if dec.DesiredReplicas < 10 {
			firstDown = time.Duration(i) * time.Second
			break
		}
	}
	if firstDown < cfg.ScaleDownStabilization {
		t.Fatalf("scaled down %v after the drop, before the %v stabilization", firstDown, cfg.ScaleDownStabilization)
	}
	dec := d.run(600, 14)
	if dec.DesiredReplicas != 2 {
		t.Fatalf("settled at %d replicas, want 2 (%s)", dec.DesiredReplicas, dec.Message)
	}
}

func TestStartSafeAfterRestart(t *testing.T) {
	cfg := testConfig()
	d := newDriver(t, cfg, 10) // a fresh Autoscaler: as after a manager restart
	for i := 1; i < int(cfg.StableWindow/time.Second); i++ {
		dec := d.tick(7) // load for one replica
		if dec.DesiredReplicas != 10 {
			t.Fatalf("second %d after restart: desired %d, want 10", i, dec.DesiredReplicas)
		}
		if dec.Reason != ReasonStartSafe {
			t.Fatalf("second %d after restart: reason %s, want %s", i, dec.Reason, ReasonStartSafe)
		}
	}
	// Growing is allowed while warming up.
	d2 := newDriver(t, cfg, 2)
	if dec := d2.run(3, 70); dec.DesiredReplicas <= 2 {
		t.Fatalf("did not scale up during warm-up: %s", dec.Message)
	}
}

func TestMissingReplicasNeverCauseScaleDown(t *testing.T) {
	d := newDriver(t, testConfig(), 10)
	d.run(120, 70)
	for i := range 600 {
		// Only 3 of 10 ready replicas answer, each at target.
		samples := []Sample{{Concurrency: 7}, {Concurrency: 7}, {Concurrency: 7}}
		dec := d.decide(Input{Samples: samples, ReadyReplicas: 10})
		if dec.DesiredReplicas < 10 {
			t.Fatalf("tick %d: scaled down to %d with 7 replicas missing (%s)", i, dec.DesiredReplicas, dec.Message)
		}
		if dec.MissingReplicas != 7 {
			t.Fatalf("MissingReplicas = %d, want 7", dec.MissingReplicas)
		}
	}
}

func TestNoMetricsKeepsReplicas(t *testing.T) {
	d := newDriver(t, testConfig(), 5)
	d.run(120, 35)
	d.now = d.now.Add(time.Minute) // collection outage
	dec := d.decide(Input{ReadyReplicas: 5})
	if dec.Reason != ReasonNoMetrics || dec.DesiredReplicas != 5 {
		t.Fatalf("got %s/%d, want %s/5 (%s)", dec.Reason, dec.DesiredReplicas, ReasonNoMetrics, dec.Message)
	}
	if !strings.Contains(dec.Message, "never a reason to scale down") {
		t.Fatalf("message does not explain the rule: %s", dec.Message)
	}
}

func TestInvalidSamplesAreIgnored(t *testing.T) {
	d := newDriver(t, testConfig(), 2)
	samples := []Sample{{Concurrency: 7}, {Concurrency: math.NaN()}, {Concurrency: -3}, {Concurrency: math.Inf(1)}}
	dec := d.decide(Input{Samples: samples, ReadyReplicas: 2})
	if dec.InvalidSamples != 3 || dec.ReportingReplicas != 1 {
		t.Fatalf("invalid=%d reporting=%d, want 3 and 1", dec.InvalidSamples, dec.ReportingReplicas)
	}
	if dec.TotalLoad != 14 { // one at 7, one missing counted at target 7
		t.Fatalf("TotalLoad = %v, want 14", dec.TotalLoad)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Config)
		start     int32
		load      float64
		want      int32
		wantLimit LimitReason
	}{
		{"max replicas", func(c *Config) { c.MaxReplicas = 6 }, 3, 700, 6, LimitMaxReplicas},
		{"min replicas", func(c *Config) { c.MinReplicas = 3 }, 1, 0, 3, LimitMinReplicas},
		{"scale-up rate", func(c *Config) {
			c.ScaleUp = ScalingRules{Select: SelectMax, Policies: []RatePolicy{{Type: PolicyPods, Value: 2, Period: time.Minute}}}
		}, 3, 700, 5, LimitScaleUpRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(&cfg)
			d := newDriver(t, cfg, tt.start)
			dec := d.tick(tt.load)
			if dec.DesiredReplicas != tt.want || !dec.Limited || dec.LimitReason != tt.wantLimit {
				t.Fatalf("got %d limited=%v by %q, want %d by %q (%s)", dec.DesiredReplicas, dec.Limited, dec.LimitReason, tt.want, tt.wantLimit, dec.Message)
			}
			if !strings.Contains(dec.Message, string(tt.wantLimit)) {
				t.Fatalf("message does not name the limit: %s", dec.Message)
			}
		})
	}
}

func TestScaleDownRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.ScaleDownStabilization = 0
	d := newDriver(t, cfg, 40)
	d.run(120, 280)
	prev := d.current
	for i := range 600 {
		dec := d.tick(7)
		if dec.DesiredReplicas < prev && dec.DesiredReplicas < prev/2 {
			t.Fatalf("tick %d: dropped from %d to %d, more than the 50%% per minute policy", i, prev, dec.DesiredReplicas)
		}
		prev = dec.DesiredReplicas
	}
	if d.current != 1 {
		t.Fatalf("settled at %d, want 1", d.current)
	}
}

func TestDecideRejectsMalformedInput(t *testing.T) {
	a, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Decide(Input{Now: at(10), CurrentReplicas: 1}); err != nil {
		t.Fatalf("valid input rejected: %v", err)
	}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"zero time", Input{CurrentReplicas: 1}, "time is not set"},
		{"negative current", Input{Now: at(11), CurrentReplicas: -1}, "must not be negative"},
		{"negative ready", Input{Now: at(11), ReadyReplicas: -2}, "must not be negative"},
		{"time going backwards", Input{Now: at(5), CurrentReplicas: 1}, "before the previous tick"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Decide(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decide() error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReconfigure(t *testing.T) {
	cfg := testConfig()
	d := newDriver(t, cfg, 4)
	d.run(120, 28)

	// Same windows: history kept, so a lower target acts at once.
	cfg.TargetPerReplica = 5
	if err := d.a.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if dec := d.tick(28); dec.Reason == ReasonStartSafe || dec.DesiredReplicas != 8 {
		t.Fatalf("after retarget: %s %d, want 8 (%s)", dec.Reason, dec.DesiredReplicas, dec.Message)
	}
	// A new stable window drops history: start safe again.
	cfg.StableWindow = 90 * time.Second
	if err := d.a.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if dec := d.tick(1); dec.Reason != ReasonStartSafe {
		t.Fatalf("after new window: reason %s, want %s", dec.Reason, ReasonStartSafe)
	}
	cfg.MinReplicas = 0
	if err := d.a.Reconfigure(cfg); err == nil {
		t.Fatal("Reconfigure accepted an invalid config")
	}
}

func TestRequestsPerSecondMetric(t *testing.T) {
	cfg := DefaultConfig(MetricRequestsPerSecond, 100) // 70 rps per replica
	cfg.MaxReplicas = 50
	d := newDriver(t, cfg, 1)
	samples := []Sample{{Concurrency: 1000, RequestsPerSecond: 70}}
	dec := d.decide(Input{Samples: samples, ReadyReplicas: 1})
	if dec.TotalLoad != 70 || dec.DesiredReplicas != 1 {
		t.Fatalf("used the wrong metric: total %v desired %d", dec.TotalLoad, dec.DesiredReplicas)
	}
}

func TestPanicNeedsTwiceTheCapacityNotRounding(t *testing.T) {
	d := newDriver(t, testConfig(), 1)
	d.run(120, 7)
	// 8 concurrent on one replica rounds up to 2 replicas (200%), but the
	// load is only 114% of target: no panic, and the stable window decides.
	for i := range 10 {
		if dec := d.tick(8); dec.Panic {
			t.Fatalf("tick %d: panic at 114%% of target (%s)", i, dec.Message)
		}
	}
	if dec := d.run(3, 15); !dec.Panic {
		t.Fatalf("no panic at 214%% of target (%s)", dec.Message)
	}
}

func TestFirstSamplesAfterStartDoNotScale(t *testing.T) {
	d := newDriver(t, testConfig(), 10)
	// One noisy high sample right after a restart must not move anything.
	dec := d.tick(84) // 120% of the capacity of 10
	if dec.DesiredReplicas != 10 || dec.Reason != ReasonStartSafe {
		t.Fatalf("first sample moved replicas to %d (%s)", dec.DesiredReplicas, dec.Message)
	}
	if !strings.Contains(dec.Message, "only a burst can scale up") {
		t.Fatalf("message does not explain the hold: %s", dec.Message)
	}
}

func BenchmarkDecide(b *testing.B) {
	a, err := New(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	samples := make([]Sample, 20)
	for i := range samples {
		samples[i] = Sample{Concurrency: 7}
	}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		if _, err := a.Decide(Input{Now: now, Samples: samples, ReadyReplicas: 20, CurrentReplicas: 20}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMessagesNameInputsAndRule(t *testing.T) {
	d := newDriver(t, testConfig(), 3)
	d.run(120, 21)
	steady := d.tick(21)
	d.tick(210)
	burst := d.tick(210)
	tests := []struct {
		name string
		dec  Decision
		want []string
	}{
		{"steady", steady, []string{"Concurrency 21 over the 1m0s stable window", "3 of 3 ready replicas", "target 7 per replica (10 at 70% utilization)", "within the tolerance (+10%/-15%)"}},
		{"panic", burst, []string{"210 over the 6s panic window", "Panic mode", "scaling up only, to 30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !strings.Contains(tt.dec.Message, w) {
					t.Errorf("message %q lacks %q", tt.dec.Message, w)
				}
			}
		})
	}
}
