package vertical

import (
	"math"
	"testing"
)

func TestFromUsageRoundsUp(t *testing.T) {
	tests := []struct {
		cores, bytes float64
		want         Resources
	}{
		{0.1234, 100, Resources{MilliCPU: 124, MemoryBytes: mebibyte}},
		{1, 256 * mebibyte, Resources{MilliCPU: 1000, MemoryBytes: 256 * mebibyte}},
		{0, 0, Resources{}},
		{math.MaxFloat64, math.MaxFloat64, Resources{MilliCPU: math.MaxInt64, MemoryBytes: math.MaxInt64}},
	}
	for _, tt := range tests {
		if got := fromUsage(tt.cores, tt.bytes); got != tt.want {
			t.Errorf("fromUsage(%v, %v) = %+v, want %+v", tt.cores, tt.bytes, got, tt.want)
		}
	}
}

func TestResourcesString(t *testing.T) {
	if got := (Resources{MilliCPU: 250, MemoryBytes: 1 << 30}).String(); got != "cpu 250m, memory 1Gi" {
		t.Fatalf("String() = %q", got)
	}
}
