package main

import (
	"flag"
	"os"
)

// options are the manager's command-line settings.
type options struct {
	metricsAddr     string
	metricsSecure   bool
	probeAddr       string
	leaderElect     bool
	leaderElectNS   string
	waypointImage   string
	ztunnelImage    string
	defaultVersion  string
	watchNamespaces string
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
	fs.StringVar(&o.defaultVersion, "default-version", "",
		"proxy release used when spec.version is empty (default: the manager's own release)")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
