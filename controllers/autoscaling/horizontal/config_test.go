package horizontal

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	for _, m := range []Metric{MetricConcurrency, MetricRequestsPerSecond} {
		cfg := DefaultConfig(m, 10)
		if err := cfg.Validate(); err != nil {
			t.Fatalf("DefaultConfig(%s) is invalid: %v", m, err)
		}
	}
}

func TestValidateRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"unknown metric", func(c *Config) { c.Metric = "CPU" }, `metric "CPU" is not supported`},
		{"zero target", func(c *Config) { c.TargetPerReplica = 0 }, "targetPerReplica must be a positive number"},
		{"utilization above one", func(c *Config) { c.TargetUtilization = 1.5 }, "targetUtilization must be in (0, 1]"},
		{"min zero", func(c *Config) { c.MinReplicas = 0 }, "minReplicas must be at least 1"},
		{"min above max", func(c *Config) { c.MinReplicas, c.MaxReplicas = 5, 3 }, "maxReplicas (3) must not be below minReplicas (5)"},
		{"panic longer than stable", func(c *Config) { c.PanicWindow = 2 * time.Minute }, "panicWindow (2m0s) must not be longer than stableWindow"},
		{"stable window too long", func(c *Config) { c.StableWindow = 3 * time.Hour }, "stableWindow must be between"},
		{"panic threshold at one", func(c *Config) { c.PanicThreshold = 1 }, "panicThreshold must be above 1"},
		{"negative tolerance", func(c *Config) { c.ScaleDown.Tolerance = -0.1 }, "scaleDown.tolerance must be in [0, 1)"},
		{"bad select", func(c *Config) { c.ScaleUp.Select = "Fastest" }, `scaleUp.select "Fastest" is not supported`},
		{"no policies", func(c *Config) { c.ScaleDown.Policies = nil }, "scaleDown needs at least one policy"},
		{"zero policy value", func(c *Config) { c.ScaleUp.Policies[0].Value = 0 }, "scaleUp.policies[0].value must be positive"},
		{"zero period", func(c *Config) { c.ScaleUp.Policies[1].Period = 0 }, "scaleUp.policies[1].period must be between"},
		{"remove over 100 percent", func(c *Config) { c.ScaleDown.Policies[0].Value = 150 }, "cannot remove more than 100%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig(MetricConcurrency, 10)
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	cfg := DefaultConfig("", 0)
	cfg.MinReplicas = 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("expected an error")
	}
	for _, want := range []string{"metric", "targetPerReplica", "minReplicas"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
