package main

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/wayfabric/wayfabric/controllers/ca"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

// addCA runs the mesh CA in every manager replica (it needs no leader).
func addCA(mgr ctrl.Manager, o options) error {
	if o.caAddr == "" {
		ctrl.Log.WithName("setup").Info("mesh CA disabled (--ca-bind-address is empty)")
		return nil
	}
	c, err := ca.NewFromConfig(mgr.GetConfig(), ca.Options{
		Namespace:   o.namespace,
		TrustDomain: o.trustDomain,
		Addr:        o.caAddr,
		IsNodeProxy: ztunnel.NodeProxyCheck(mgr.GetAPIReader(), o.namespace),
		Log:         ctrl.Log.WithName("ca"),
	})
	if err != nil {
		return fmt.Errorf("creating the mesh CA: %w", err)
	}
	return mgr.Add(c)
}
