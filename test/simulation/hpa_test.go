package simulation

import (
	"testing"
	"time"
)

// hpaDriver feeds the baseline a constant per-replica load every second.
func hpaTick(t *testing.T, h *HPA, sec int, perReplica float64, ready, current int32) int32 {
	t.Helper()
	per := make([]float64, ready)
	for i := range per {
		per[i] = perReplica
	}
	got, err := h.Tick(Observation{Now: simStart.Add(time.Duration(sec) * time.Second), PerReplica: per, ReadyReplicas: ready, CurrentReplicas: current})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func newTestHPA(t *testing.T) *HPA {
	t.Helper()
	h, err := NewHPA("hpa", DefaultHPAConfig(10, 1, 100))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHPAReplicaCalculation(t *testing.T) {
	tests := []struct {
		name           string
		perReplica     float64
		ready, current int32
		want           int32
	}{
		{"within tolerance", 10.9, 4, 4, 4},
		{"scale up", 15, 4, 4, 6},
		{"scale up rate: max(100%, 4 pods)", 100, 2, 2, 6},
		{"scale up rate for larger counts", 100, 10, 10, 20},
		{"pending pods count as zero on scale-up", 20, 2, 4, 4}, // 40 over 4 pods = 10: within tolerance
		{"scale down to min", 0, 4, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHPA(t)
			if got := hpaTick(t, h, 0, tt.perReplica, tt.ready, tt.current); got != tt.want {
				t.Fatalf("desired %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHPAActsOnlyAtSyncPeriod(t *testing.T) {
	h := newTestHPA(t)
	current := hpaTick(t, h, 0, 10, 4, 4)
	for sec := 1; sec < 15; sec++ {
		if got := hpaTick(t, h, sec, 30, current, current); got != current {
			t.Fatalf("acted at %ds, between syncs", sec)
		}
	}
	if got := hpaTick(t, h, 15, 30, current, current); got <= current {
		t.Fatalf("did not act at the next sync: %d", got)
	}
}

func TestHPAScaleDownStabilization(t *testing.T) {
	h := newTestHPA(t)
	current := hpaTick(t, h, 0, 10, 8, 8)
	var firstDown int
	for sec := 1; sec <= 400; sec++ {
		got := hpaTick(t, h, sec, 2, current, current)
		if got < current && firstDown == 0 {
			firstDown = sec
		}
		current = got
	}
	if firstDown < 300 || firstDown > 315 {
		t.Fatalf("first scale-down at %ds, want after the 300s window, at the next sync", firstDown)
	}
	if current != 2 {
		t.Fatalf("settled at %d, want 2", current)
	}
}

func TestNewHPARejectsBadConfig(t *testing.T) {
	cfg := DefaultHPAConfig(0, 1, 10)
	if _, err := NewHPA("bad", cfg); err == nil {
		t.Fatal("accepted a zero target")
	}
}
