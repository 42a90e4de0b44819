package gateway

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// DefaultInstallPoll is how often WhenInstalled looks for the Gateway API
// CRDs while they are missing.
const DefaultInstallPoll = 30 * time.Second

// WhenInstalled runs setup (which registers the Gateway API controllers)
// now if the cluster serves the Gateway API, else as soon as it does: the
// manager keeps running Waypoints and ztunnels meanwhile, and installing the
// CRDs later turns Gateway API support on without a restart.
func WhenInstalled(mgr ctrl.Manager, poll time.Duration, setup func(ctrl.Manager) error) error {
	missing, err := MissingKinds(mgr.GetRESTMapper())
	if err != nil {
		return fmt.Errorf("checking for the Gateway API CRDs: %w", err)
	}
	if len(missing) == 0 {
		return setup(mgr)
	}
	if poll <= 0 {
		poll = DefaultInstallPoll
	}
	mgr.GetLogger().Info("Gateway API support is off until the cluster serves these kinds; install the "+
		"Gateway API standard CRDs to turn it on", "missingKinds", missing, "poll", poll)
	return mgr.Add(&installWatcher{mgr: mgr, poll: poll, setup: setup})
}

// installWatcher polls for the Gateway API kinds and registers the
// controllers once; controllers added to a running manager start at once.
type installWatcher struct {
	mgr   ctrl.Manager
	poll  time.Duration
	setup func(ctrl.Manager) error
}

// NeedLeaderElection is false: every replica should notice the CRDs; the
// controllers it registers still wait for leadership.
func (w *installWatcher) NeedLeaderElection() bool { return false }

func (w *installWatcher) Start(ctx context.Context) error {
	log := w.mgr.GetLogger().WithName("gateway-api")
	t := time.NewTicker(w.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		missing, err := MissingKinds(w.mgr.GetRESTMapper())
		if err != nil {
			log.Error(err, "checking for the Gateway API CRDs")
			continue
		}
		if len(missing) > 0 {
			continue
		}
		log.Info("Gateway API CRDs installed: starting the Gateway API controllers")
		if err := w.setup(w.mgr); err != nil {
			// A half-registered set cannot be retried safely; the error ends
			// the manager so that its restart registers them cleanly.
			return fmt.Errorf("turning Gateway API support on: %w", err)
		}
		return nil
	}
}
