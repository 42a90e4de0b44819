package horizontal

import (
	"testing"
	"time"
)

func TestScaleUpLimit(t *testing.T) {
	defaults := DefaultConfig(MetricConcurrency, 10).ScaleUp
	tests := []struct {
		name    string
		rules   ScalingRules
		history []scaleEvent
		now     time.Time
		current int32
		want    int32
	}{
		{"percent wins for large counts", defaults, nil, at(1), 5, 50},
		{"pods win for one replica", defaults, nil, at(1), 1, 10}, // max(ceil(1*10), 1+4)
		{"period start counts earlier growth", defaults, []scaleEvent{{at(0), 45}}, at(1), 50, 50},
		{"old events fall out of the period", defaults, []scaleEvent{{at(0), 45}}, at(16), 50, 500},
		{"min select", ScalingRules{Select: SelectMin, Policies: defaults.Policies}, nil, at(1), 5, 9},
		{"disabled", ScalingRules{Select: SelectDisabled}, nil, at(1), 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := scaleHistory{keep: time.Hour, events: tt.history}
			if got := scaleUpLimit(&tt.rules, &h, tt.now, tt.current); got != tt.want {
				t.Fatalf("scaleUpLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestScaleDownLimit(t *testing.T) {
	half := ScalingRules{Select: SelectMax, Policies: []RatePolicy{{Type: PolicyPercent, Value: 50, Period: time.Minute}}}
	both := ScalingRules{Select: SelectMax, Policies: []RatePolicy{
		{Type: PolicyPercent, Value: 50, Period: time.Minute},
		{Type: PolicyPods, Value: 8, Period: time.Minute},
	}}
	tests := []struct {
		name    string
		rules   ScalingRules
		history []scaleEvent
		current int32
		want    int32
	}{
		{"halve", half, nil, 10, 5},
		{"odd count rounds like the HPA", half, nil, 5, 2},
		{"already halved in period", half, []scaleEvent{{at(0), -5}}, 5, 5},
		{"max select removes the most", both, nil, 10, 2},
		{"min select removes the least", ScalingRules{Select: SelectMin, Policies: both.Policies}, nil, 10, 5},
		{"never negative", ScalingRules{Select: SelectMax, Policies: []RatePolicy{{Type: PolicyPods, Value: 50, Period: time.Minute}}}, nil, 3, 0},
		{"disabled", ScalingRules{Select: SelectDisabled}, nil, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := scaleHistory{keep: time.Hour, events: tt.history}
			if got := scaleDownLimit(&tt.rules, &h, at(10), tt.current); got != tt.want {
				t.Fatalf("scaleDownLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestScaleHistoryPrunesOldEvents(t *testing.T) {
	h := scaleHistory{keep: 10 * time.Second}
	h.add(at(0), 1)
	h.add(at(5), 1)
	h.add(at(12), 1)
	if len(h.events) != 2 {
		t.Fatalf("kept %d events, want 2 (the one at 0s is older than 10s)", len(h.events))
	}
}
