package simulation

import (
	"fmt"
	"time"

	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
)

// Observation is what a scaler sees each simulated second.
type Observation struct {
	Now time.Time
	// PerReplica holds one load value per ready replica.
	PerReplica      []float64
	ReadyReplicas   int32
	CurrentReplicas int32
}

// Scaler is a horizontal autoscaling algorithm under test.
type Scaler interface {
	Name() string
	// Tick returns the replica count to run after this second.
	Tick(Observation) (int32, error)
}

// Wayfabric drives the horizontal policy package.
type Wayfabric struct {
	a       *horizontal.Autoscaler
	samples []horizontal.Sample
	// Decisions keeps every Decision when Record is set, for assertions.
	Record    bool
	Decisions []horizontal.Decision
}

// NewWayfabric builds the policy under test from cfg.
func NewWayfabric(cfg horizontal.Config) (*Wayfabric, error) {
	a, err := horizontal.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Wayfabric{a: a}, nil
}

func (w *Wayfabric) Name() string { return "Wayfabric" }

func (w *Wayfabric) Tick(o Observation) (int32, error) {
	w.samples = w.samples[:0]
	for _, v := range o.PerReplica {
		w.samples = append(w.samples, horizontal.Sample{Concurrency: v, RequestsPerSecond: v})
	}
	d, err := w.a.Decide(horizontal.Input{
		Now: o.Now, Samples: w.samples, ReadyReplicas: o.ReadyReplicas, CurrentReplicas: o.CurrentReplicas,
	})
	if err != nil {
		return 0, fmt.Errorf("wayfabric policy: %w", err)
	}
	if w.Record {
		w.Decisions = append(w.Decisions, d)
	}
	return d.DesiredReplicas, nil
}
