package controllers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
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

// DefaultNamespace is the operator's namespace when its configuration names
// none (config/default deploys there).
const DefaultNamespace = meta.DefaultNamespace

// Options configure every reconciler. The process resolves them once
// (cmd/manager); nothing below reads the environment.
type Options struct {
	// WaypointImage is the default waypoint image repository; the tag is the version.
	WaypointImage string
	// ZtunnelImage is the default ztunnel image repository; the tag is the version.
	ZtunnelImage string
	// DefaultVersion is the proxy release used when a spec leaves version empty.
	DefaultVersion string
	// Namespace is the operator's namespace: ztunnels, the CA root Secret
	// and the trust bundle live there (empty: DefaultNamespace).
	Namespace string
	// AutoscalerInterval is how often every waypoint's load is collected (0: 1 s).
	AutoscalerInterval time.Duration
	// GatewayAPIPoll is how often to look for the Gateway API CRDs while
	// they are not installed (0: 30 s).
	GatewayAPIPoll time.Duration
}

// CacheOptions keep the manager's informers small: managed fields are
// dropped, and Pods are cached only for the pods the operator itself
// creates (PodCacheSelector); nothing else in the manager lists Pods.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: PodCacheSelector()},
		},
	}
}

// PodCacheSelector selects the waypoint replicas (the autoscaler reads
// their load reports) and the ztunnels (their failures, versions and
// captured pods make the ZtunnelConfig status): pods the operator created,
// which carry both labels. Other pods, also other meshes' ztunnels, are
// never cached.
func PodCacheSelector() labels.Selector {
	managed, err := labels.NewRequirement(meta.LabelManagedBy, selection.Equals, []string{meta.ManagedBy})
	if err != nil {
		panic(err) // constants
	}
	name, err := labels.NewRequirement(meta.LabelName, selection.In, []string{"waypoint", "ztunnel"})
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*managed, *name)
}

// controller is one entry of the manager's controller list.
type controller struct {
	name  string
	setup func(ctrl.Manager) error
}

// Setup registers every controller with mgr. The list below is all of them;
// no SetupWithManager registers another.
func Setup(mgr ctrl.Manager, o Options) error {
	c := mgr.GetClient()
	waypoints := mgr.GetEventRecorder("waypoint-controller")
	return setupAll(mgr, []controller{
		{"Waypoint", (&waypoint.Reconciler{Client: c, Recorder: waypoints,
			Image: o.WaypointImage, DefaultVersion: o.DefaultVersion, Namespace: o.Namespace}).SetupWithManager},
		{"waypoint reader RBAC", (&waypoint.ReaderReconciler{Client: c, Recorder: waypoints}).SetupWithManager},
		{"waypoint trust bundle", (&waypoint.TrustBundleReconciler{Client: c, Namespace: o.Namespace}).SetupWithManager},
		{"ZtunnelConfig", (&ztunnel.Reconciler{Client: c, Recorder: mgr.GetEventRecorder("ztunnel-controller"),
			Image: o.ZtunnelImage, DefaultVersion: o.DefaultVersion, Namespace: o.Namespace}).SetupWithManager},
		{"AuthorizationPolicy", (&authorization.Reconciler{Client: c, Recorder: mgr.GetEventRecorder("authorization-controller"),
			RootNamespace: o.Namespace}).SetupWithManager},
		{"waypoint autoscaler", func(mgr ctrl.Manager) error {
			return autoscaling.Setup(mgr, autoscaling.Options{Interval: o.AutoscalerInterval}, collector.HTTPOptions{})
		}},
		// Waypoints and ztunnels work without Gateway API: its controllers
		// start whenever its CRDs are served, now or later.
		{"Gateway API", func(mgr ctrl.Manager) error { return gateway.WhenInstalled(mgr, o.GatewayAPIPoll, SetupGatewayAPI) }},
	})
}

// SetupGatewayAPI registers the Gateway API controllers (GatewayClass,
// Gateway, HTTPRoute, and GRPCRoute when the cluster serves it) and the
// field indexes they share.
func SetupGatewayAPI(mgr ctrl.Manager) error {
	c, rec := mgr.GetClient(), mgr.GetEventRecorder("gateway-api-controller")
	grpc, err := gateway.GRPCRoutesServed(mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	list := []controller{
		{"route indexes", func(mgr ctrl.Manager) error { return gateway.RegisterIndexes(mgr, grpc) }},
		{"GatewayClass", (&gateway.GatewayClassReconciler{Client: c, GRPCServed: grpc}).SetupWithManager},
		{"Gateway", (&gateway.GatewayReconciler{Client: c, Events: rec, GRPCServed: grpc}).SetupWithManager},
		{"HTTPRoute", (&gateway.RouteReconciler{Client: c, Events: rec, Kind: gateway.HTTPRoutes, GRPCServed: grpc}).SetupWithManager},
	}
	if grpc {
		list = append(list, controller{"GRPCRoute", (&gateway.RouteReconciler{Client: c, Events: rec, Kind: gateway.GRPCRoutes, GRPCServed: grpc}).SetupWithManager})
	} else {
		mgr.GetLogger().Info("GRPCRoutes (gateway.networking.k8s.io/v1) are not served: their status is not written; restart the manager after upgrading the Gateway API CRDs")
	}
	return setupAll(mgr, list)
}

func setupAll(mgr ctrl.Manager, list []controller) error {
	for _, c := range list {
		if err := c.setup(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", c.name, err)
		}
	}
	return nil
}
