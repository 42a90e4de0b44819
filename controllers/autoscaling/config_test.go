package autoscaling

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestHorizontalConfig(t *testing.T) {
	def := horizontal.DefaultConfig(horizontal.MetricConcurrency, 100)
	cases := []struct {
		name    string
		spec    *meshv1alpha1.HorizontalAutoscaling
		check   func(t *testing.T, c horizontal.Config)
		wantErr string
	}{
		{name: "nil block keeps every policy default", spec: nil, check: func(t *testing.T, c horizontal.Config) {
			if c.TargetPerReplica != 100 || c.Metric != horizontal.MetricConcurrency || c.StableWindow != def.StableWindow ||
				len(c.ScaleUp.Policies) != len(def.ScaleUp.Policies) || c.ScaleDownStabilization != def.ScaleDownStabilization {
				t.Errorf("got %+v, want the defaults", c)
			}
		}},
		{name: "targets, windows and threshold", spec: &meshv1alpha1.HorizontalAutoscaling{
			Metric: meshv1alpha1.MetricRequestsPerSecond, Target: 250, TargetUtilizationPercent: 80, MinReplicas: 2, MaxReplicas: 20,
			StableWindow: &metav1.Duration{Duration: 90 * time.Second}, PanicWindow: &metav1.Duration{Duration: 9 * time.Second}, PanicThresholdPercent: 300,
		}, check: func(t *testing.T, c horizontal.Config) {
			if c.Metric != horizontal.MetricRequestsPerSecond || c.TargetPerReplica != 250 || c.TargetUtilization != 0.8 ||
				c.MinReplicas != 2 || c.MaxReplicas != 20 || c.StableWindow != 90*time.Second || c.PanicWindow != 9*time.Second || c.PanicThreshold != 3 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "a panic window shorter than burst confirmation shortens it", spec: &meshv1alpha1.HorizontalAutoscaling{
			PanicWindow: &metav1.Duration{Duration: time.Second},
		}, check: func(t *testing.T, c horizontal.Config) {
			if c.BurstConfirmation != time.Second {
				t.Errorf("burst confirmation %v, want 1s", c.BurstConfirmation)
			}
		}},
		{name: "CRD-defaulted rate rules become max(percent, pods) per period", spec: &meshv1alpha1.HorizontalAutoscaling{
			ScaleUp:   meshv1alpha1.ScalingRules{StabilizationWindow: dur(0), MaxPercent: new(int32(1000)), MaxPods: new(int32(10)), Period: dur(time.Second)},
			ScaleDown: meshv1alpha1.ScalingRules{StabilizationWindow: dur(300 * time.Second), MaxPercent: new(int32(50)), MaxPods: new(int32(10)), Period: dur(time.Minute)},
		}, check: func(t *testing.T, c horizontal.Config) {
			wantUp := []horizontal.RatePolicy{{Type: horizontal.PolicyPercent, Value: 1000, Period: time.Second}, {Type: horizontal.PolicyPods, Value: 10, Period: time.Second}}
			wantDown := []horizontal.RatePolicy{{Type: horizontal.PolicyPercent, Value: 50, Period: time.Minute}, {Type: horizontal.PolicyPods, Value: 10, Period: time.Minute}}
			if !slices.Equal(c.ScaleUp.Policies, wantUp) || !slices.Equal(c.ScaleDown.Policies, wantDown) ||
				c.ScaleUp.Select != horizontal.SelectMax || c.ScaleDown.Select != horizontal.SelectMax || c.ScaleDownStabilization != 300*time.Second {
				t.Errorf("up %+v down %+v stabilization %v", c.ScaleUp, c.ScaleDown, c.ScaleDownStabilization)
			}
		}},
		{name: "a partly written rule takes the CRD defaults for the rest", spec: &meshv1alpha1.HorizontalAutoscaling{
			ScaleDown: meshv1alpha1.ScalingRules{MaxPods: new(int32(1))},
		}, check: func(t *testing.T, c horizontal.Config) {
			want := []horizontal.RatePolicy{{Type: horizontal.PolicyPercent, Value: 50, Period: time.Minute}, {Type: horizontal.PolicyPods, Value: 1, Period: time.Minute}}
			if !slices.Equal(c.ScaleDown.Policies, want) || c.ScaleDownStabilization != def.ScaleDownStabilization {
				t.Errorf("down %+v stabilization %v", c.ScaleDown, c.ScaleDownStabilization)
			}
		}},
		{name: "a zero stabilization window is honoured", spec: &meshv1alpha1.HorizontalAutoscaling{
			ScaleDown: meshv1alpha1.ScalingRules{StabilizationWindow: dur(0)},
		}, check: func(t *testing.T, c horizontal.Config) {
			if c.ScaleDownStabilization != 0 {
				t.Errorf("stabilization %v, want 0", c.ScaleDownStabilization)
			}
		}},
		{name: "min above max is rejected by the policy", spec: &meshv1alpha1.HorizontalAutoscaling{MinReplicas: 5, MaxReplicas: 3},
			wantErr: "maxReplicas (3) must not be below minReplicas (5)"},
		{name: "a scale-down above 100% is rejected", spec: &meshv1alpha1.HorizontalAutoscaling{ScaleDown: meshv1alpha1.ScalingRules{MaxPercent: new(int32(150))}},
			wantErr: "cannot remove more than 100%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := HorizontalConfig(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRecommenderConfigAndUpdatePolicy(t *testing.T) {
	cases := []struct {
		name     string
		spec     *meshv1alpha1.VerticalAutoscaling
		min, max vertical.Resources
		interval time.Duration
		wantErr  string
	}{
		{name: "no block: VPA floor, no ceiling", min: vertical.DefaultMinAllowed, interval: vertical.DefaultMinInterval},
		{name: "bounds and interval", spec: &meshv1alpha1.VerticalAutoscaling{
			MinAllowed: &meshv1alpha1.ResourceBounds{CPU: "50m"}, MaxAllowed: &meshv1alpha1.ResourceBounds{CPU: "2", Memory: "1Gi"}, MinInterval: dur(time.Hour)},
			min: vertical.Resources{MilliCPU: 50, MemoryBytes: vertical.DefaultMinAllowed.MemoryBytes}, max: vertical.Resources{MilliCPU: 2000, MemoryBytes: 1 << 30}, interval: time.Hour},
		{name: "a malformed quantity names the field", spec: &meshv1alpha1.VerticalAutoscaling{MaxAllowed: &meshv1alpha1.ResourceBounds{Memory: "lots"}},
			wantErr: "autoscaling.vertical.maxAllowed.memory"},
		{name: "a max below the default floor lowers the floor", spec: &meshv1alpha1.VerticalAutoscaling{MaxAllowed: &meshv1alpha1.ResourceBounds{Memory: "100Mi"}},
			min: vertical.Resources{MilliCPU: 25, MemoryBytes: 100 << 20}, max: vertical.Resources{MemoryBytes: 100 << 20}, interval: vertical.DefaultMinInterval},
		{name: "a max below an explicit floor is rejected", spec: &meshv1alpha1.VerticalAutoscaling{
			MinAllowed: &meshv1alpha1.ResourceBounds{Memory: "200Mi"}, MaxAllowed: &meshv1alpha1.ResourceBounds{Memory: "100Mi"}},
			wantErr: "below minAllowed memory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := RecommenderConfig(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MinAllowed != tc.min || c.MaxAllowed != tc.max {
				t.Errorf("min %v max %v, want %v %v", c.MinAllowed, c.MaxAllowed, tc.min, tc.max)
			}
			if p := UpdatePolicy(tc.spec, vertical.ModeInPlace); p.MinInterval != tc.interval || p.Mode != vertical.ModeInPlace {
				t.Errorf("policy %+v, want interval %v", p, tc.interval)
			}
		})
	}
}

func TestModes(t *testing.T) {
	on, off := new(true), new(false)
	cases := []struct {
		name       string
		a          *meshv1alpha1.WaypointAutoscaling
		horizontal bool
		mode       vertical.Mode
		managed    bool
	}{
		{"no autoscaling", nil, false, vertical.ModeOff, false},
		{"horizontal block without enabled is on", &meshv1alpha1.WaypointAutoscaling{Horizontal: &meshv1alpha1.HorizontalAutoscaling{}}, true, vertical.ModeOff, true},
		{"horizontal disabled", &meshv1alpha1.WaypointAutoscaling{Horizontal: &meshv1alpha1.HorizontalAutoscaling{Enabled: off}}, false, vertical.ModeOff, false},
		{"vertical block without mode recommends", &meshv1alpha1.WaypointAutoscaling{Vertical: &meshv1alpha1.VerticalAutoscaling{}}, false, vertical.ModeRecommend, true},
		{"vertical off, horizontal on", &meshv1alpha1.WaypointAutoscaling{Horizontal: &meshv1alpha1.HorizontalAutoscaling{Enabled: on},
			Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: meshv1alpha1.VerticalOff}}, true, vertical.ModeOff, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wp := &meshv1alpha1.Waypoint{Spec: meshv1alpha1.WaypointSpec{Autoscaling: tc.a}}
			if wp.HorizontalEnabled() != tc.horizontal || verticalMode(wp) != tc.mode || managed(wp) != tc.managed {
				t.Errorf("horizontal %v mode %v managed %v, want %v %v %v", wp.HorizontalEnabled(), verticalMode(wp), managed(wp), tc.horizontal, tc.mode, tc.managed)
			}
		})
	}
}
