package controllers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/wayfabric/wayfabric/controllers/authorization"
	"github.com/wayfabric/wayfabric/controllers/autoscaling"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/gateway"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
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
	// Namespace is the operator's namespace (empty: $POD_NAMESPACE, else wayfabric-system).
	Namespace string
	// AutoscalerInterval is how often every waypoint's load is collected (0: 1 s).
	AutoscalerInterval time.Duration
	// GatewayAPIPoll is how often to look for the Gateway API CRDs while
	// they are not installed (0: 30 s).
	GatewayAPIPoll time.Duration
}

// OperatorNamespace resolves the operator's namespace: ns, else
// $POD_NAMESPACE, else wayfabric-system.
func OperatorNamespace(ns string) string { return meta.OperatorNamespace(ns) }

// CacheOptions keep the manager's informers small: managed fields are
// dropped, and Pods are cached only for waypoint replicas (the autoscaler
// reads their load reports); nothing else in the manager lists Pods.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: collector.PodCacheSelector()},
		},
	}
}

// Setup registers every reconciler with mgr.
func Setup(mgr ctrl.Manager, o Options) error {
	if err := (&waypoint.Reconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("waypoint-controller"),
		Image: o.WaypointImage, DefaultVersion: o.DefaultVersion, Namespace: o.Namespace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Waypoint controller: %w", err)
	}
	if err := (&ztunnel.Reconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("ztunnel-controller"),
		Image: o.ZtunnelImage, DefaultVersion: o.DefaultVersion, Namespace: o.Namespace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ZtunnelConfig controller: %w", err)
	}
	if err := (&authorization.Reconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("authorization-controller"),
		RootNamespace: OperatorNamespace(o.Namespace),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the AuthorizationPolicy controller: %w", err)
	}
	if err := autoscaling.Setup(mgr, autoscaling.Options{Interval: o.AutoscalerInterval}, collector.HTTPOptions{}); err != nil {
		return fmt.Errorf("setting up the waypoint autoscaler: %w", err)
	}
	// Waypoints and ztunnels work without Gateway API: its controllers start
	// whenever its CRDs are served, now or later.
	if err := gateway.SetupWhenInstalled(mgr, o.GatewayAPIPoll); err != nil {
		return fmt.Errorf("setting up the Gateway API controllers: %w", err)
	}
	return nil
}
