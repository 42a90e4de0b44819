package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/waypoint"
)

type options struct {
	run                              waypoint.RunOptions
	plaintext                        plaintextListeners
	drainSeconds, drainAcceptSeconds float64
	hbonePeerPort                    uint
	verbosity                        int
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (o *options) register(fs *flag.FlagSet) {
	r := &o.run
	fs.StringVar(&r.Namespace, "namespace", envOr("POD_NAMESPACE", ""), "namespace of this waypoint (env POD_NAMESPACE)")
	fs.StringVar(&r.Name, "waypoint-name", envOr("WAYPOINT_NAME", ""), "name of the Waypoint (or Gateway) this proxy serves (env WAYPOINT_NAME)")
	fs.StringVar(&r.ServiceAccount, "service-account", envOr("SERVICE_ACCOUNT", "default"), "service account of this pod, for its SPIFFE identity (env SERVICE_ACCOUNT)")
	fs.StringVar(&r.TrustDomain, "trust-domain", "cluster.local", "SPIFFE trust domain")
	fs.StringVar(&r.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config)")
	fs.StringVar(&r.StaticConfig, "static-config", "", "read Services, EndpointSlices, HTTPRoutes... from this YAML file instead of the API server")
	fs.StringVar(&r.HBONEAddr, "hbone-addr", fmt.Sprintf(":%d", mesh.PortHBONE), "HBONE listen address (empty disables HBONE)")
	fs.StringVar(&r.StatsAddr, "stats-addr", fmt.Sprintf(":%d", mesh.PortStats), "load report (/load) and Prometheus (/metrics) listen address")
	fs.StringVar(&r.ReadyAddr, "ready-addr", fmt.Sprintf(":%d", mesh.PortReadiness), "readiness (/healthz/ready) listen address")
	fs.StringVar(&r.DebugAddr, "debug-addr", "", "serve Go profiling (/debug/pprof/) here; empty disables it, keep it on loopback")
	fs.StringVar(&r.CAURL, "ca-url", "", "mesh CA URL, e.g. https://wayfabric-ca.wayfabric-system.svc:15012 (required for HBONE)")
	fs.StringVar(&r.CAServerName, "ca-server-name", "", "name to verify in the CA's certificate when --ca-url names it otherwise, e.g. by IP from outside the cluster (default: --ca-url's host)")
	fs.StringVar(&r.RootCertFile, "root-cert", "/var/run/secrets/wayfabric/root-cert.pem", "PEM trust bundle of the mesh CA")
	fs.StringVar(&r.TokenFile, "token-file", "/var/run/secrets/tokens/wayfabric-token", "projected service-account token presented to the CA")
	fs.StringVar(&r.CertFile, "cert-file", "", "PEM workload certificate chain to use instead of the mesh CA (benchmarks, running without a cluster); needs --key-file")
	fs.StringVar(&r.KeyFile, "key-file", "", "PEM private key of --cert-file")
	fs.UintVar(&o.hbonePeerPort, "hbone-peer-port", uint(mesh.PortHBONE), "port of the HBONE listener of in-mesh destinations (their ztunnels)")
	fs.Var(&o.plaintext, "plaintext-listener", "LISTEN=DESTINATION (e.g. 127.0.0.1:18080=10.96.0.10:80): serve plain TCP as if tunnelled to DESTINATION; for benchmarks and debugging, repeatable")
	fs.Float64Var(&o.drainSeconds, "drain-seconds", 30, "on SIGTERM, exit within this many seconds")
	fs.Float64Var(&o.drainAcceptSeconds, "drain-accept-seconds", 5, "after readiness fails, keep accepting new streams this long (endpoint removal propagation); capped at half of drain-seconds")
	fs.StringVar(&r.WaypointFor, "waypoint-for", "service", "traffic this waypoint serves, as the Waypoint's spec.for: service (Service VIPs), workload (pod IPs) or all")
	fs.StringVar(&r.NodeProxyNamespace, "node-proxy-namespace", mesh.DefaultNamespace, "namespace of the node proxies (the operator's): only their identities may set the client's address (Forwarded) on a tunnel")
	fs.IntVar(&r.MemoryLimitPercent, "memory-limit-percent", 90, "hold the Go soft memory limit at this percentage of the container's memory limit, following in-place resizes; 0 disables")
	fs.IntVar(&o.verbosity, "v", 0, "log verbosity")
}

func (o *options) validate() error {
	var errs []error
	if o.run.Namespace == "" || o.run.Name == "" {
		errs = append(errs, errors.New("--namespace and --waypoint-name are required"))
	}
	if o.drainSeconds <= 0 {
		errs = append(errs, errors.New("--drain-seconds must be positive"))
	}
	if o.run.MemoryLimitPercent < 0 || o.run.MemoryLimitPercent > 100 {
		errs = append(errs, errors.New("--memory-limit-percent must be between 0 and 100"))
	}
	if o.drainAcceptSeconds < 0 {
		errs = append(errs, errors.New("--drain-accept-seconds must not be negative"))
	}
	switch o.run.WaypointFor {
	case "service", "workload", "all":
	default:
		errs = append(errs, fmt.Errorf("--waypoint-for=%q: want service, workload or all", o.run.WaypointFor))
	}
	if o.run.HBONEAddr != "" && o.run.CAURL == "" && o.run.CertFile == "" {
		errs = append(errs, errors.New("--ca-url is required for HBONE (or --cert-file and --key-file; or pass --hbone-addr= to disable it)"))
	}
	if (o.run.CertFile == "") != (o.run.KeyFile == "") {
		errs = append(errs, errors.New("--cert-file and --key-file go together"))
	}
	if o.hbonePeerPort == 0 || o.hbonePeerPort > 65535 {
		errs = append(errs, errors.New("--hbone-peer-port must be a TCP port"))
	}
	return errors.Join(errs...)
}

// runOptions completes the settings from the flags that need converting.
func (o *options) runOptions() waypoint.RunOptions {
	r := o.run
	r.Plaintext = o.plaintext
	r.HBONEPeerPort = uint16(o.hbonePeerPort)
	r.Drain = time.Duration(o.drainSeconds * float64(time.Second))
	r.DrainAccept = time.Duration(o.drainAcceptSeconds * float64(time.Second))
	return r
}

type plaintextListeners []waypoint.PlaintextListener

func (p *plaintextListeners) String() string { return fmt.Sprint(*p) }

func (p *plaintextListeners) Set(v string) error {
	listen, dst, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want LISTEN=DESTINATION")
	}
	ap, err := netip.ParseAddrPort(dst)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	*p = append(*p, waypoint.PlaintextListener{Listen: listen, Destination: ap})
	return nil
}
