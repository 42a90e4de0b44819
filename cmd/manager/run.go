package main

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wayfabric/wayfabric/cmd/internal/buildinfo"
	"github.com/wayfabric/wayfabric/controllers"
	"github.com/wayfabric/wayfabric/controllers/scheme"
)

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("setup")
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no Kubernetes cluster configured (set KUBECONFIG or run in a pod): %w", err)
	}
	direct, err := client.New(cfg, client.Options{})
	if err != nil {
		return fmt.Errorf("creating a Kubernetes client: %w", err)
	}
	created, err := ensureNamespace(ctx, direct, o.namespace)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the operator namespace", "namespace", o.namespace)
	}
	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme.New(),
		Cache:                   controllers.CacheOptions(),
		Metrics:                 metrics,
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "manager.mesh.wayfabric.io",
		LeaderElectionNamespace: o.leaderElectNS,
		// Stop reconciling at once when we lose the lease; the next leader resumes.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the controller manager: %w", err)
	}
	version := o.defaultVersion
	if version == "" {
		version = buildinfo.Version
	}
	if err := controllers.Setup(mgr, controllers.Options{
		WaypointImage:      o.waypointImage,
		ZtunnelImage:       o.ztunnelImage,
		DefaultVersion:     version,
		AutoscalerInterval: o.autoscalerInterval,
		Namespace:          o.namespace,
	}); err != nil {
		return err
	}
	if err := addCA(mgr, o); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	log.Info("starting manager", "version", buildinfo.Version, "defaultProxyVersion", version,
		"waypointImage", o.waypointImage, "ztunnelImage", o.ztunnelImage, "leaderElection", o.leaderElect)
	return mgr.Start(ctx)
}
