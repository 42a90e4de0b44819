package main

import (
	"flag"
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

// TestCAServerNameFlag: --ca-server-name reaches the run options, which pass
// it to the CA client (proxy/waypoint's TestCAServerName checks that part).
func TestCAServerNameFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args: []string{"--ca-url=https://10.248.0.20:15012", "--ca-server-name=wayfabric-ca.wayfabric-system.svc"}, want: "wayfabric-ca.wayfabric-system.svc"},
		{args: []string{"--ca-url=https://wayfabric-ca.wayfabric-system.svc:15012"}, want: ""},
	} {
		var o options
		fs := flag.NewFlagSet("waypoint", flag.ContinueOnError)
		o.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := o.runOptions().CAServerName; got != tc.want {
			t.Errorf("%v: CAServerName %q, want %q", tc.args, got, tc.want)
		}
	}
}
