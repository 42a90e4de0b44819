package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wayfabric/wayfabric/controllers"
	"github.com/wayfabric/wayfabric/controllers/ca"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

// options are the manager's command-line settings.
type options struct {
	metricsAddr        string
	metricsSecure      bool
	probeAddr          string
	leaderElect        bool
	leaderElectNS      string
	waypointImage      string
	ztunnelImage       string
	defaultVersion     string
	autoscalerInterval time.Duration
	namespace          string
	trustDomain        string
	caAddr             string
}

func (o *options) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080",
		"address of the Prometheus metrics endpoint (use :8443 with --metrics-secure); 0 disables it")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", false,
		"serve metrics over HTTPS with Kubernetes authentication and authorization")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"elect a leader so that only one of several manager replicas reconciles at a time")
	fs.StringVar(&o.leaderElectNS, "leader-election-namespace", "",
		"namespace of the leader-election Lease (default: the pod's namespace)")
	fs.StringVar(&o.waypointImage, "waypoint-image", envOr("RELATED_IMAGE_WAYPOINT", "ghcr.io/wayfabric/waypoint"),
		"default waypoint image; its tag follows each Waypoint's spec.version (env RELATED_IMAGE_WAYPOINT)")
	fs.StringVar(&o.ztunnelImage, "ztunnel-image", envOr("RELATED_IMAGE_ZTUNNEL", "ghcr.io/wayfabric/ztunnel"),
		"default ztunnel image; its tag follows each ZtunnelConfig's spec.version (env RELATED_IMAGE_ZTUNNEL)")
	fs.DurationVar(&o.autoscalerInterval, "autoscaler-interval", time.Second,
		"how often the autoscaler reads every waypoint replica's load report")
	fs.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", controllers.DefaultNamespace),
		"the operator's namespace: ztunnels, the CA root Secret and trust bundle live there (env POD_NAMESPACE)")
	fs.StringVar(&o.trustDomain, "trust-domain", "cluster.local", "trust domain of the SPIFFE identities the CA issues")
	fs.StringVar(&o.caAddr, "ca-bind-address", ca.DefaultAddr, "address of the mesh CA (HTTPS); empty disables the CA")
	fs.StringVar(&o.defaultVersion, "default-version", "",
		"proxy release used when spec.version is empty (default: the manager's own release)")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// validate rejects settings that would otherwise fail later, or be replaced
// by a default without a word.
func (o *options) validate() error {
	if o.namespace == "" {
		return errors.New("--namespace must not be empty")
	}
	if o.autoscalerInterval <= 0 {
		return fmt.Errorf("--autoscaler-interval must be positive, got %v", o.autoscalerInterval)
	}
	// The trust domain is the host of every SPIFFE ID the CA issues.
	if _, err := identity.New(o.trustDomain, "ns", "sa"); err != nil {
		return fmt.Errorf("--trust-domain %q: %w", o.trustDomain, err)
	}
	return nil
}
