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

func TestScaleLimitsKeepsRatio(t *testing.T) {
	tests := []struct {
		name                   string
		req, lim, newReq, want Resources
	}{
		{"double", Resources{100, 100 * mebibyte}, Resources{200, 150 * mebibyte}, Resources{300, 200 * mebibyte}, Resources{600, 300 * mebibyte}},
		{"no cpu limit", Resources{100, 100 * mebibyte}, Resources{0, 200 * mebibyte}, Resources{300, 50 * mebibyte}, Resources{0, 100 * mebibyte}},
		{"no request", Resources{}, Resources{1000, mebibyte}, Resources{300, mebibyte}, Resources{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScaleLimits(tt.req, tt.lim, tt.newReq); got != tt.want {
				t.Fatalf("ScaleLimits = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResourcesString(t *testing.T) {
	if got := (Resources{MilliCPU: 250, MemoryBytes: 1 << 30}).String(); got != "cpu 250m, memory 1Gi" {
		t.Fatalf("String() = %q", got)
	}
}
