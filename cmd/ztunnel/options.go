package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wayfabric/wayfabric/proxy/ztunnel"
)

type options struct {
	configFile, kubeconfig, nodeName, nodeAddrs, configName string
	caTokenFile, rootCertFile, socketDir, procRoot          string
	cniBinMount, cniConfMount, pluginSource                 string
	statsAddr, readyAddr, logLevel, caServerName, debugAddr string
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.configFile, "config", "/etc/ztunnel/config.yaml", "node configuration written by the operator (reloaded on change)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config)")
	fs.StringVar(&o.nodeName, "node-name", envOr("NODE_NAME", ""), "this node's name (env NODE_NAME)")
	fs.StringVar(&o.nodeAddrs, "node-addrs", envOr("HOST_IPS", envOr("HOST_IP", "")), "the node's addresses, comma separated: traffic from them (kubelet probes) is not captured (env HOST_IPS or HOST_IP)")
	fs.StringVar(&o.configName, "ztunnel-config", envOr("ZTUNNEL_CONFIG", ""), "name of the ZtunnelConfig this ztunnel belongs to (env ZTUNNEL_CONFIG)")
	fs.StringVar(&o.caTokenFile, "token-file", envOr("WAYFABRIC_TOKEN_FILE", "/var/run/secrets/wayfabric/tokens/token"), "projected token (audience wayfabric) presented to the mesh CA")
	fs.StringVar(&o.caServerName, "ca-server-name", "", "TLS server name to verify on the mesh CA (default: the host of caAddress); for a ztunnel that reaches the CA by IP")
	fs.StringVar(&o.rootCertFile, "root-cert", "/var/run/secrets/wayfabric/ca/root-cert.pem", "trust bundle of the mesh CA")
	fs.StringVar(&o.socketDir, "socket-dir", "/var/run/wayfabric", "host directory shared with the CNI plugin (same path inside and outside the container)")
	fs.StringVar(&o.procRoot, "proc-root", "/host/proc", "the host's /proc (to find running pods' network namespaces)")
	fs.StringVar(&o.cniBinMount, "cni-bin-dir", "/host/cni/bin", "where the host's CNI plugin directory is mounted")
	fs.StringVar(&o.cniConfMount, "cni-conf-dir", "/host/cni/net.d", "where the host's CNI configuration directory is mounted")
	fs.StringVar(&o.pluginSource, "cni-plugin", "/wayfabric-cni", "the CNI plugin binary to install")
	fs.StringVar(&o.statsAddr, "stats-addr", ":15020", "Prometheus metrics (/metrics) listen address")
	fs.StringVar(&o.readyAddr, "ready-addr", ":15021", "readiness (/healthz/ready) listen address")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve Go profiling (/debug/pprof/) here; empty disables it, keep it on loopback")
	fs.StringVar(&o.logLevel, "log-level", "info", "error, warn, info, debug or trace (the configuration file's logLevel overrides it)")
}

func (o *options) validate() error {
	var errs []error
	if o.nodeName == "" {
		errs = append(errs, errors.New("--node-name (or NODE_NAME) is required: a ztunnel serves one node"))
	}
	if _, err := parseAddrs(o.nodeAddrs); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (o *options) agent(log logr.Logger) (*ztunnel.Agent, error) {
	rc, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("Kubernetes client configuration: %w", err) //nolint:staticcheck // a proper noun
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	addrs, _ := parseAddrs(o.nodeAddrs)
	caPEM := rc.CAData
	if len(caPEM) == 0 && rc.CAFile != "" {
		if caPEM, err = os.ReadFile(rc.CAFile); err != nil {
			return nil, err
		}
	}
	tokenFile := rc.BearerTokenFile
	return &ztunnel.Agent{
		ConfigFile: o.configFile, NodeName: o.nodeName, NodeAddrs: addrs,
		Kube: kube, Dynamic: dyn, APIServer: rc.Host, APIServerCA: caPEM,
		KubeTokenFile: tokenFile, CATokenFile: o.caTokenFile, RootCertFile: o.rootCertFile, CAServerName: o.caServerName,
		SocketDir: o.socketDir, ProcRoot: o.procRoot,
		CNIBinMount: o.cniBinMount, CNIConfMount: o.cniConfMount, PluginSource: o.pluginSource,
		StatsAddr: o.statsAddr, ReadyAddr: o.readyAddr, DebugAddr: o.debugAddr,
		Final:     meshLeaving(kube, dyn, o.configName, o.nodeName, log),
		Namespace: os.Getenv("POD_NAMESPACE"),
		Log:       log,
	}, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}
