package simulation

import (
	"time"

	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
)

// The standard comparison: waypoints sized for 10 concurrent requests per
// replica at 70% utilization (7 per replica), 1-50 replicas, replicas
// ready 5 s after creation.
const (
	StandardTargetPerReplica = 10.0
	StandardUtilization      = 0.7
	StandardMinReplicas      = 1
	StandardMaxReplicas      = 50
	StandardReadyDelay       = 5 * time.Second
)

// StandardSetup is the environment of the standard comparison.
func StandardSetup() Setup {
	return Setup{
		Target:      StandardTargetPerReplica * StandardUtilization,
		Overload:    StandardTargetPerReplica,
		MinReplicas: StandardMinReplicas,
		MaxReplicas: StandardMaxReplicas,
		ReadyDelay:  StandardReadyDelay,
	}
}

// StandardPolicy is the horizontal policy with its defaults.
func StandardPolicy() horizontal.Config {
	cfg := horizontal.DefaultConfig(horizontal.MetricConcurrency, StandardTargetPerReplica)
	cfg.TargetUtilization = StandardUtilization
	cfg.MinReplicas, cfg.MaxReplicas = StandardMinReplicas, StandardMaxReplicas
	return cfg
}

// StandardHPA is the HPA with its defaults and the same effective target.
func StandardHPA(metricWindow time.Duration) HPAConfig {
	cfg := DefaultHPAConfig(StandardTargetPerReplica*StandardUtilization, StandardMinReplicas, StandardMaxReplicas)
	cfg.MetricWindow = metricWindow
	return cfg
}

// StandardTraces are the traces of issue 6: step x10, ramp, spike,
// diurnal and 30 minutes of noisy steady load. The step comes 7 s after an
// HPA sync, the middle of its 15 s period.
func StandardTraces(seed uint64) []Trace {
	return []Trace{
		Step(20, 10, 607*time.Second, 30*time.Minute, 0.1, seed),
		Ramp(20, 200, 5*time.Minute, 10*time.Minute, 0.1, seed+1),
		Spike(30, 8, 10*time.Minute, 30*time.Second, 30*time.Minute, 0.1, seed+2),
		Diurnal(20, 200, time.Hour, time.Hour, 0.1, seed+3),
		NoisySteady(100, 30*time.Minute, 0.3, seed+4),
	}
}

// StandardScalers builds fresh instances of every scaler compared.
func StandardScalers() ([]Scaler, error) {
	wf, err := NewWayfabric(StandardPolicy())
	if err != nil {
		return nil, err
	}
	instant, err := NewHPA("HPA (gauge at sync)", StandardHPA(0))
	if err != nil {
		return nil, err
	}
	averaged, err := NewHPA("HPA (15 s mean)", StandardHPA(15*time.Second))
	if err != nil {
		return nil, err
	}
	return []Scaler{wf, instant, averaged}, nil
}

// Compare runs every standard scaler over every trace.
func Compare(setup Setup, traces []Trace) ([]Result, error) {
	var results []Result
	for _, tr := range traces {
		scalers, err := StandardScalers()
		if err != nil {
			return nil, err
		}
		for _, s := range scalers {
			r, err := Run(setup, tr, s)
			if err != nil {
				return nil, err
			}
			results = append(results, r)
		}
	}
	return results, nil
}
