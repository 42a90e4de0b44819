package testutil

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// Env is a running envtest control plane with a manager on it.
type Env struct {
	Env *envtest.Environment
	Cfg *rest.Config
	// Client reads straight from the API server (no cache), for assertions.
	Client client.Client
	Mgr    ctrl.Manager
	cancel context.CancelFunc
	done   chan error
}

// Start starts envtest, builds a manager, lets setup register reconcilers
// on it, and starts the manager.
func Start(setup func(ctrl.Manager) error) (*Env, error) {
	e := &Env{done: make(chan error, 1)}
	var err error
	if e.Env, err = testenv.New(); err != nil {
		return nil, err
	}
	if e.Cfg, err = e.Env.Start(); err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	// As ctrl.GetConfig does for the real manager: no client-side throttling.
	e.Cfg.QPS, e.Cfg.Burst = -1, 0
	if e.Client, err = client.New(e.Cfg, client.Options{Scheme: e.Env.Scheme}); err != nil {
		return nil, errors.Join(err, e.Env.Stop())
	}
	e.Mgr, err = ctrl.NewManager(e.Cfg, ctrl.Options{
		Scheme:     e.Env.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		return nil, errors.Join(err, e.Env.Stop())
	}
	if err := setup(e.Mgr); err != nil {
		return nil, errors.Join(err, e.Env.Stop())
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- e.Mgr.Start(ctx) }()
	if !e.Mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, errors.Join(errors.New("manager cache did not sync"), e.Stop())
	}
	return e, nil
}

// Stop stops the manager, then the control plane.
func (e *Env) Stop() error {
	var errs []error
	if e.cancel != nil {
		e.cancel()
		errs = append(errs, <-e.done)
	}
	errs = append(errs, e.Env.Stop())
	return errors.Join(errs...)
}
