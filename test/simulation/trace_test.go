package simulation

import (
	"math"
	"testing"
	"time"
)

func TestTracesAreDeterministic(t *testing.T) {
	a, b, c := StandardTraces(42), StandardTraces(42), StandardTraces(43)
	for i := range a {
		if len(a[i].Points) != len(b[i].Points) {
			t.Fatalf("%s: lengths differ", a[i].Name)
		}
		same, differs := true, false
		for j := range a[i].Points {
			same = same && a[i].Points[j] == b[i].Points[j]
			differs = differs || a[i].Points[j] != c[i].Points[j]
		}
		if !same {
			t.Errorf("%s: the same seed gave different traces", a[i].Name)
		}
		if !differs {
			t.Errorf("%s: different seeds gave the same trace", a[i].Name)
		}
	}
}

func TestNoiseStaysWithinAmplitudeAndIsCentred(t *testing.T) {
	tr := NoisySteady(100, time.Hour, 0.3, 9)
	var sum float64
	for _, p := range tr.Points {
		if p.Observed < 70-1e-9 || p.Observed > 130+1e-9 {
			t.Fatalf("observed %v outside ±30%% of 100", p.Observed)
		}
		sum += p.Observed
	}
	if mean := sum / float64(len(tr.Points)); math.Abs(mean-100) > 2 {
		t.Fatalf("noise is biased: mean %v", mean)
	}
}

func TestTraceShapes(t *testing.T) {
	step := Step(20, 10, 10*time.Second, time.Minute, 0, 1)
	ramp := Ramp(10, 100, 10*time.Second, 20*time.Second, 0, 1)
	spike := Spike(10, 5, 10*time.Second, 5*time.Second, time.Minute, 0, 1)
	diurnal := Diurnal(10, 110, time.Minute, time.Minute, 0, 1)
	tests := []struct {
		name string
		tr   Trace
		sec  int
		want float64
	}{
		{"step before", step, 9, 20},
		{"step after", step, 10, 200},
		{"ramp low", ramp, 5, 10},
		{"ramp half way up", ramp, 20, 55},
		{"ramp high", ramp, 35, 100},
		{"ramp half way down", ramp, 50, 55},
		{"ramp back low", ramp, 65, 10},
		{"spike inside", spike, 14, 50},
		{"spike after", spike, 15, 10},
		{"diurnal trough", diurnal, 0, 10},
		{"diurnal peak", diurnal, 30, 110},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tr.Points[tt.sec].Mean; math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("second %d: %v, want %v", tt.sec, got, tt.want)
			}
			if tt.tr.Points[tt.sec].Observed != tt.tr.Points[tt.sec].Mean {
				t.Fatal("noise-free trace has noise")
			}
		})
	}
	if step.StepAt != 10*time.Second || step.StepTo != 200 || ramp.StepAt >= 0 {
		t.Fatalf("step markers wrong: step %v→%v, ramp %v", step.StepAt, step.StepTo, ramp.StepAt)
	}
}

func TestClusterReadinessAndScaleDownOrder(t *testing.T) {
	c := newCluster(2, 5*time.Second, simStart)
	c.scale(simStart, 4)
	if got := c.ready(simStart.Add(4 * time.Second)); got != 2 {
		t.Fatalf("ready before the delay = %d, want 2", got)
	}
	if got := c.ready(simStart.Add(5 * time.Second)); got != 4 {
		t.Fatalf("ready after the delay = %d, want 4", got)
	}
	c.scale(simStart.Add(time.Second), 6)
	c.scale(simStart.Add(2*time.Second), 4) // removes the two still starting
	if got := c.ready(simStart.Add(5 * time.Second)); got != 4 {
		t.Fatalf("after scale-down: ready %d, want 4 (not-ready pods go first)", got)
	}
}
