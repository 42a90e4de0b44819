package main

import (
	"testing"
	"time"
)

func TestDrainTimes(t *testing.T) {
	cases := []struct {
		drain, accept       float64
		wantAccept, wantEnd time.Duration
	}{
		{30, 5, 5 * time.Second, 29 * time.Second},       // margin capped at 1s
		{4, 5, 2 * time.Second, 3600 * time.Millisecond}, // accept capped at half; margin 10%
		{10, 0, 0, 9 * time.Second},                      // no accept window
	}
	for _, tc := range cases {
		o := options{drainSeconds: tc.drain, drainAcceptSeconds: tc.accept}
		accept, end := o.drainTimes()
		if accept != tc.wantAccept || end != tc.wantEnd {
			t.Errorf("drain=%v accept=%v: got %v/%v, want %v/%v", tc.drain, tc.accept, accept, end, tc.wantAccept, tc.wantEnd)
		}
	}
}

func TestValidateWaypointFor(t *testing.T) {
	for v, ok := range map[string]bool{"service": true, "workload": true, "all": true, "": false, "pods": false} {
		o := options{namespace: "ns", name: "wp", drainSeconds: 30, hbonePeerPort: 15008, waypointFor: v}
		if err := o.validate(); (err == nil) != ok {
			t.Errorf("--waypoint-for=%q: validate() = %v, want ok=%v", v, err, ok)
		}
	}
}
