package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

type options struct {
	namespace, name, serviceAccount, trustDomain string
	kubeconfig, staticConfig                     string
	hboneAddr, statsAddr, readyAddr, debugAddr   string
	caURL, rootCertFile, tokenFile               string
	certFile, keyFile                            string
	hbonePeerPort                                uint
	waypointFor, nodeProxyNamespace              string
	plaintext                                    plaintextListeners
	drainSeconds, drainAcceptSeconds             float64
	verbosity                                    int
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", ""), "namespace of this waypoint (env POD_NAMESPACE)")
	fs.StringVar(&o.name, "waypoint-name", envOr("WAYPOINT_NAME", ""), "name of the Waypoint (or Gateway) this proxy serves (env WAYPOINT_NAME)")
	fs.StringVar(&o.serviceAccount, "service-account", envOr("SERVICE_ACCOUNT", "default"), "service account of this pod, for its SPIFFE identity (env SERVICE_ACCOUNT)")
	fs.StringVar(&o.trustDomain, "trust-domain", "cluster.local", "SPIFFE trust domain")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config)")
	fs.StringVar(&o.staticConfig, "static-config", "", "read Services, EndpointSlices, HTTPRoutes... from this YAML file instead of the API server")
	fs.StringVar(&o.hboneAddr, "hbone-addr", ":15008", "HBONE listen address (empty disables HBONE)")
	fs.StringVar(&o.statsAddr, "stats-addr", ":15020", "load report (/load) and Prometheus (/metrics) listen address")
	fs.StringVar(&o.readyAddr, "ready-addr", ":15021", "readiness (/healthz/ready) listen address")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve Go profiling (/debug/pprof/) here; empty disables it, keep it on loopback")
	fs.StringVar(&o.caURL, "ca-url", "", "mesh CA URL, e.g. https://wayfabric-ca.wayfabric-system.svc:15012 (required for HBONE)")
	fs.StringVar(&o.rootCertFile, "root-cert", "/var/run/secrets/wayfabric/root-cert.pem", "PEM trust bundle of the mesh CA")
	fs.StringVar(&o.tokenFile, "token-file", "/var/run/secrets/tokens/wayfabric-token", "projected service-account token presented to the CA")
	fs.StringVar(&o.certFile, "cert-file", "", "PEM workload certificate chain to use instead of the mesh CA (benchmarks, running without a cluster); needs --key-file")
	fs.StringVar(&o.keyFile, "key-file", "", "PEM private key of --cert-file")
	fs.UintVar(&o.hbonePeerPort, "hbone-peer-port", 15008, "port of the HBONE listener of in-mesh destinations (their ztunnels)")
	fs.Var(&o.plaintext, "plaintext-listener", "LISTEN=DESTINATION (e.g. 127.0.0.1:18080=10.96.0.10:80): serve plain TCP as if tunnelled to DESTINATION; for benchmarks and debugging, repeatable")
	fs.Float64Var(&o.drainSeconds, "drain-seconds", 30, "on SIGTERM, exit within this many seconds")
	fs.Float64Var(&o.drainAcceptSeconds, "drain-accept-seconds", 5, "after readiness fails, keep accepting new streams this long (endpoint removal propagation); capped at half of drain-seconds")
	fs.StringVar(&o.waypointFor, "waypoint-for", "service", "traffic this waypoint serves, as the Waypoint's spec.for: service (Service VIPs), workload (pod IPs) or all")
	fs.StringVar(&o.nodeProxyNamespace, "node-proxy-namespace", "wayfabric-system", "namespace of the node proxies (the operator's): only their identities may set the client's address (Forwarded) on a tunnel")
	fs.IntVar(&o.verbosity, "v", 0, "log verbosity")
}

func (o *options) validate() error {
	var errs []error
	if o.namespace == "" || o.name == "" {
		errs = append(errs, errors.New("--namespace and --waypoint-name are required"))
	}
	if o.drainSeconds <= 0 {
		errs = append(errs, errors.New("--drain-seconds must be positive"))
	}
	if o.drainAcceptSeconds < 0 {
		errs = append(errs, errors.New("--drain-accept-seconds must not be negative"))
	}
	switch o.waypointFor {
	case "service", "workload", "all":
	default:
		errs = append(errs, fmt.Errorf("--waypoint-for=%q: want service, workload or all", o.waypointFor))
	}
	if o.hboneAddr != "" && o.caURL == "" && o.certFile == "" {
		errs = append(errs, errors.New("--ca-url is required for HBONE (or --cert-file and --key-file; or pass --hbone-addr= to disable it)"))
	}
	if (o.certFile == "") != (o.keyFile == "") {
		errs = append(errs, errors.New("--cert-file and --key-file go together"))
	}
	if o.hbonePeerPort == 0 || o.hbonePeerPort > 65535 {
		errs = append(errs, errors.New("--hbone-peer-port must be a TCP port"))
	}
	return errors.Join(errs...)
}

// drainTimes splits drainSeconds: accept new streams for the first part,
// then wait for in-flight work, leaving a margin to exit before the kubelet's SIGKILL.
func (o *options) drainTimes() (accept, total time.Duration) {
	total = time.Duration(o.drainSeconds * float64(time.Second))
	accept = min(time.Duration(o.drainAcceptSeconds*float64(time.Second)), total/2)
	return accept, total - min(total/10, time.Second)
}

type plaintextListener struct {
	listen string
	dst    netip.AddrPort
}

type plaintextListeners []plaintextListener

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
	*p = append(*p, plaintextListener{listen: listen, dst: ap})
	return nil
}
