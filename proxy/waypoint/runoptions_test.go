package waypoint

import (
	"testing"
	"time"
)

func TestDrainTimes(t *testing.T) {
	cases := []struct {
		drain, accept       time.Duration
		wantAccept, wantEnd time.Duration
	}{
		{30 * time.Second, 5 * time.Second, 5 * time.Second, 29 * time.Second},       // margin capped at 1s
		{4 * time.Second, 5 * time.Second, 2 * time.Second, 3600 * time.Millisecond}, // accept capped at half; margin 10%
		{10 * time.Second, 0, 0, 9 * time.Second},                                    // no accept window
	}
	for _, tc := range cases {
		o := RunOptions{Drain: tc.drain, DrainAccept: tc.accept}
		accept, end := o.drainTimes()
		if accept != tc.wantAccept || end != tc.wantEnd {
			t.Errorf("drain=%v accept=%v: got %v/%v, want %v/%v", tc.drain, tc.accept, accept, end, tc.wantAccept, tc.wantEnd)
		}
	}
}
