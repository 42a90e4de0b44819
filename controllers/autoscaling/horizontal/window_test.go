package horizontal

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func TestTimeWindowAverageSkipsGapsAndExpires(t *testing.T) {
	w := newTimeWindow(10 * time.Second)
	w.record(at(0), 10)
	w.record(at(0.5), 30) // same bucket: mean 20
	w.record(at(3), 50)   // buckets 1 and 2 are gaps, not zeros

	tests := []struct {
		name        string
		now         time.Time
		span        time.Duration
		wantAvg     float64
		wantBuckets int
	}{
		{"all buckets", at(3), 10 * time.Second, 35, 2},
		{"only newest", at(3), time.Second, 50, 1},
		{"oldest expired", at(10.2), 10 * time.Second, 50, 1},
		{"everything expired", at(20), 10 * time.Second, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			avg, n := w.average(tt.now, tt.span)
			if avg != tt.wantAvg || n != tt.wantBuckets {
				t.Fatalf("average = %v over %d buckets, want %v over %d", avg, n, tt.wantAvg, tt.wantBuckets)
			}
		})
	}
}

func TestTimeWindowReusedSlotForgetsOldValue(t *testing.T) {
	w := newTimeWindow(3 * time.Second)
	w.record(at(0), 100)
	w.record(at(3), 1) // same slot as second 0, three buckets later
	if avg, n := w.average(at(3), 3*time.Second); avg != 1 || n != 1 {
		t.Fatalf("average = %v over %d buckets, want 1 over 1", avg, n)
	}
	if p, ok := w.peak(at(3), 3*time.Second); !ok || p != 1 {
		t.Fatalf("peak = %v (%v), want 1", p, ok)
	}
}

func TestTimeWindowSustainedNeedsEveryBucket(t *testing.T) {
	w := newTimeWindow(6 * time.Second)
	w.record(at(0), 40)
	w.record(at(1), 100)
	if v, ok := w.sustained(at(1), 2*time.Second); !ok || v != 40 {
		t.Fatalf("sustained = %v (%v), want 40", v, ok)
	}
	// A gap at second 2 means a two-second level cannot be confirmed.
	w.record(at(3), 100)
	if _, ok := w.sustained(at(3), 2*time.Second); ok {
		t.Fatal("sustained confirmed a level across a gap")
	}
}

func TestTimeWindowDoesNotAllocate(t *testing.T) {
	w := newTimeWindow(time.Minute)
	sec := 0.0
	allocs := testing.AllocsPerRun(1000, func() {
		sec++
		w.record(at(sec), sec)
		w.average(at(sec), time.Minute)
		w.peak(at(sec), time.Minute)
		w.sustained(at(sec), 2*time.Second)
	})
	if allocs != 0 {
		t.Fatalf("window operations allocate %v times per tick, want 0", allocs)
	}
}
