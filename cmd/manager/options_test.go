package main

import (
	"flag"
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"zero interval", []string{"--autoscaler-interval=0s"}, "--autoscaler-interval must be positive"},
		{"negative interval", []string{"--autoscaler-interval=-1s"}, "--autoscaler-interval must be positive"},
		{"trust domain with a space", []string{"--trust-domain=cluster local"}, `--trust-domain "cluster local"`},
		{"empty trust domain", []string{"--trust-domain="}, "--trust-domain"},
		{"empty namespace", []string{"--namespace="}, "--namespace must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o options
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			o.bindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
