package main

import (
	"testing"

	"github.com/wayfabric/wayfabric/proxy/waypoint"
)

func TestValidateWaypointFor(t *testing.T) {
	for v, ok := range map[string]bool{"service": true, "workload": true, "all": true, "": false, "pods": false} {
		o := options{run: waypoint.RunOptions{Namespace: "ns", Name: "wp", WaypointFor: v}, drainSeconds: 30, hbonePeerPort: 15008}
		if err := o.validate(); (err == nil) != ok {
			t.Errorf("--waypoint-for=%q: validate() = %v, want ok=%v", v, err, ok)
		}
	}
}
