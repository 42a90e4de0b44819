package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/wayfabric/wayfabric/controllers/gateway"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

// Options configure every reconciler.
type Options struct {
	// WaypointImage is the default waypoint image repository; the tag is the version.
	WaypointImage string
	// ZtunnelImage is the default ztunnel image repository; the tag is the version.
	ZtunnelImage string
	// DefaultVersion is the proxy release used when a spec leaves version empty.
	DefaultVersion string
}

// Setup registers every reconciler with mgr.
func Setup(mgr ctrl.Manager, o Options) error {
	if err := (&waypoint.Reconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("waypoint-controller"),
		Image: o.WaypointImage, DefaultVersion: o.DefaultVersion,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Waypoint controller: %w", err)
	}
	if err := (&ztunnel.Reconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("ztunnel-controller"),
		Image: o.ZtunnelImage, DefaultVersion: o.DefaultVersion,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ZtunnelConfig controller: %w", err)
	}
	if err := gateway.Setup(mgr); err != nil {
		return fmt.Errorf("setting up the Gateway API controllers: %w", err)
	}
	return nil
}
