package simulation

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestComparison prints the comparison tables of docs/perf-autoscaling.md
// and checks the claims the document makes. Set WAYFABRIC_PERF_TABLE to a
// path to also write the tables there.
func TestComparison(t *testing.T) {
	setup := StandardSetup()
	results, err := Compare(setup, StandardTraces(1))
	if err != nil {
		t.Fatal(err)
	}
	sweep, err := NoisySweep(setup, []float64{0.2, 0.3}, 30, 330, 15, 4)
	if err != nil {
		t.Fatal(err)
	}
	out := Table(results) + "\n" + SweepTable(sweep)
	t.Logf("\n%s", out)
	if path := os.Getenv("WAYFABRIC_PERF_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	byKey := map[string]Result{}
	for _, r := range results {
		byKey[r.Trace+"/"+r.Scaler] = r
	}
	step := StandardTraces(1)[0].Name
	ours := byKey[step+"/Wayfabric"]
	if ours.Reaction < 0 || ours.Reaction > 2*time.Second {
		t.Errorf("step reaction %v, want within 2s", ours.Reaction)
	}
	for _, r := range results {
		if r.Trace != step || r.Scaler == "Wayfabric" {
			continue
		}
		if r.NearReaction >= 0 && r.NearReaction <= ours.NearReaction {
			t.Errorf("%s reacted as fast as Wayfabric (%v vs %v): the baseline or the claim is wrong", r.Scaler, r.NearReaction, ours.NearReaction)
		}
	}
	for _, s := range sweep {
		if strings.HasPrefix(s.Scaler, "Wayfabric") && s.MaxEvents > 5 {
			t.Errorf("%s: up to %d scale events per 30 min of noisy steady load, want at most 5", s.Scaler, s.MaxEvents)
		}
	}
}

// SweepResult summarizes one scaler over many noisy-steady runs.
type SweepResult struct {
	Scaler     string
	Amplitude  float64
	Runs       int
	MaxEvents  int
	MeanEvents float64
	// MeanOver is the mean over-provisioned replica-seconds per run.
	MeanOver float64
}

// NoisySweep runs every standard scaler over 30 minutes of noisy steady
// load at means from low to high (step apart) and several seeds.
func NoisySweep(setup Setup, amplitudes []float64, low, high, step float64, seeds int) ([]SweepResult, error) {
	var out []SweepResult
	for _, amp := range amplitudes {
		stats := map[string]*SweepResult{}
		var order []string
		for mean := low; mean <= high; mean += step {
			for seed := 1; seed <= seeds; seed++ {
				tr := NoisySteady(mean, 30*time.Minute, amp, uint64(seed))
				scalers, err := StandardScalers()
				if err != nil {
					return nil, err
				}
				for _, s := range scalers {
					r, err := Run(setup, tr, s)
					if err != nil {
						return nil, err
					}
					st, ok := stats[s.Name()]
					if !ok {
						st = &SweepResult{Scaler: s.Name(), Amplitude: amp}
						stats[s.Name()] = st
						order = append(order, s.Name())
					}
					st.Runs++
					st.MaxEvents = max(st.MaxEvents, len(r.Events))
					st.MeanEvents += float64(len(r.Events))
					st.MeanOver += r.OverProvisioned
				}
			}
		}
		for _, name := range order {
			st := stats[name]
			st.MeanEvents /= float64(st.Runs)
			st.MeanOver /= float64(st.Runs)
			out = append(out, *st)
		}
	}
	return out, nil
}

// SweepTable renders a noisy-steady sweep as Markdown.
func SweepTable(results []SweepResult) string {
	var b strings.Builder
	b.WriteString("| noise | scaler | runs | max scale events / 30 min | mean scale events / 30 min | mean over-provisioned replica·s |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| ±%.0f%% | %s | %d | %d | %.2f | %.0f |\n", r.Amplitude*100, r.Scaler, r.Runs, r.MaxEvents, r.MeanEvents, r.MeanOver)
	}
	return b.String()
}
