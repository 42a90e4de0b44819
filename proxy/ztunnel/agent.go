package ztunnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/nodeconfig"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/uds"
)

// Agent is everything a node's ztunnel process runs: the API watch, the
// node proxy, the CNI plugin's socket and installation, the handover
// socket, metrics and readiness.
type Agent struct {
	// ConfigFile is config.yaml (nodeconfig), reloaded when it changes.
	ConfigFile string
	NodeName   string
	// NodeAddrs are the node's addresses: traffic from them (kubelet
	// probes) is never captured.
	NodeAddrs []netip.Addr
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	// APIServer and APIServerCA let the CNI plugin reach the API when no
	// ztunnel runs (its fallback decides which pods may start).
	APIServer   string
	APIServerCA []byte
	// KubeTokenFile is this pod's service-account token (for the plugin's
	// kubeconfig); CATokenFile the projected token presented to the CA.
	KubeTokenFile, CATokenFile string
	RootCertFile               string
	// CAServerName overrides the TLS server name checked on the CA (for a
	// ztunnel run outside the cluster that reaches the CA by address).
	CAServerName string
	// SocketDir is the host directory shared with the CNI plugin (mounted
	// at the same path).
	SocketDir string
	ProcRoot  string
	// CNIBinMount and CNIConfMount are where the host's CNI directories
	// are mounted in this container; PluginSource is the plugin binary.
	CNIBinMount, CNIConfMount, PluginSource string
	StatsAddr, ReadyAddr                    string
	// DebugAddr, if set, serves Go profiling (/debug/pprof/); keep it on
	// loopback.
	DebugAddr string
	// Version is this build's release, reported on /status.
	Version string
	// Namespace is the ztunnel pod's own namespace.
	Namespace string
	// Final decides at shutdown whether the mesh is leaving this node (the
	// ZtunnelConfig is gone or no longer selects it): then every pod's
	// rules and the CNI plugin are removed instead of failing closed.
	Final    func(context.Context) bool
	Registry *prometheus.Registry
	Log      logr.Logger

	ready    atomic.Bool
	draining atomic.Bool
}

// Status is what GET :15020/status answers; the operator sums it into the
// ZtunnelConfig's status.
type Status struct {
	Node            string `json:"node"`
	Version         string `json:"version"`
	Ready           bool   `json:"ready"`
	Draining        bool   `json:"draining"`
	CapturedPods    int    `json:"capturedPods"`
	OpenConnections int    `json:"openConnections"`
}

// Socket names in SocketDir.
const (
	CNISocket      = "ztunnel.sock"
	HandoverSocket = "handover.sock"
)

// Run serves until ctx ends, then drains.
func (a *Agent) Run(ctx context.Context) error {
	cfg, err := nodeconfig.Load(a.ConfigFile)
	if err != nil {
		return err
	}
	log := a.Log
	bundle, err := loadBundle(a.RootCertFile)
	if err != nil {
		return err
	}
	// Certificates keep renewing through the drain: not tied to ctx.
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	issuer := &identity.CAClient{URL: "https://" + cfg.CAAddress, Token: identity.TokenFile(a.CATokenFile), Bundle: bundle,
		ServerName: a.CAServerName}
	certs := identity.NewCertCache(bg, issuer, bundle, identity.CacheOptions{Log: log.WithName("certs")})
	defer certs.Close()

	live := newLiveConfig(cfg)
	watcher := &discovery.Watcher{Kube: a.Kube, Dynamic: a.Dynamic, Excluded: live.excluded, RootNamespace: a.Namespace,
		Log: log.WithName("discovery")}
	metrics := NewMetrics(a.Registry)
	node := NewNode(Config{
		NodeName: a.NodeName, TrustDomain: cfg.TrustDomain, Certs: certs, Bundle: bundle,
		Capture: captureConfig(cfg, a.NodeAddrs), ProcRoot: a.ProcRoot, Snapshot: watcher.Snapshot,
		Metrics: metrics, HBONEMetrics: hbone.NewMetrics(a.Registry), Log: log.WithName("node"),
	})
	if err := a.serveAdmin(bg, node); err != nil {
		return err
	}
	watchErr := make(chan error, 1)
	go func() { watchErr <- watcher.Run(bg) }()
	select {
	case <-watcher.Synced():
	case err := <-watchErr:
		return fmt.Errorf("watching the API: %w", err)
	case <-ctx.Done():
		return nil
	}
	log.Info("API view synced")

	// 1. Take the pods (and their sockets) of a running predecessor.
	if err := os.MkdirAll(a.SocketDir, 0o700); err != nil {
		return err
	}
	handoverPath := filepath.Join(a.SocketDir, HandoverSocket)
	finish, err := node.TakeOver(ctx, handoverPath)
	if err != nil {
		log.Error(err, "no handover; adopting pods from /proc instead")
	}
	// 2. Own the CNI socket: new pods come here from now on.
	cniL, err := uds.Listen(filepath.Join(a.SocketDir, CNISocket))
	if err != nil {
		return fmt.Errorf("CNI socket: %w", err)
	}
	go func() { _ = cni.Serve(bg, cniL, node, log.WithName("cni")) }()
	// 3. The predecessor stops accepting; this process accepts for both.
	if finish != nil {
		if err := finish(); err != nil {
			log.Error(err, "completing the handover")
		}
	}
	handoverL, err := uds.Listen(handoverPath)
	if err != nil {
		return fmt.Errorf("handover socket: %w", err)
	}
	handedOff := make(chan struct{})
	go node.ServeHandover(bg, handoverL, func() { close(handedOff) })

	// 4. Adopt every enrolled pod already running here, then keep in step.
	installer := a.installer(cfg)
	if err := installer.Install(ctx); err != nil {
		return fmt.Errorf("installing the CNI plugin: %w", err)
	}
	go func() { _ = installer.Watch(bg) }()
	go a.refreshKubeconfig(bg, filepath.Join(a.CNIConfMount, kubeconfigName))
	reconcileNow := make(chan struct{}, 1)
	watcher.OnChange = func(*discovery.Snapshot) { poke(reconcileNow) }
	node.Reconcile(ctx, watcher.Snapshot())
	go a.reconcileLoop(bg, node, watcher, reconcileNow)
	go a.reloadLoop(bg, live, node, watcher)
	a.ready.Store(true)
	log.Info("ztunnel ready", "node", a.NodeName, "captured", node.Captured())

	var handed bool
	select {
	case <-ctx.Done():
	case <-handedOff:
		handed = true
		a.ready.Store(false)
		<-ctx.Done() // the kubelet's SIGTERM follows once the successor is ready
	case err := <-watchErr:
		return fmt.Errorf("watching the API: %w", err)
	}
	a.draining.Store(true)
	a.ready.Store(false)
	drain := time.Duration(live.get().DrainSeconds) * time.Second
	final := !handed && a.Final != nil && a.Final(bg)
	log.Info("shutting down", "handedOver", handed, "meshLeavingNode", final, "drain", drain.String(), "open", node.OpenConnections())
	if final {
		if err := installer.Uninstall(); err != nil {
			log.Error(err, "removing the CNI plugin")
		}
	}
	node.Shutdown(drain, final)
	return nil
}

// captureConfig turns the node configuration into pod rules.
func captureConfig(cfg nodeconfig.Config, nodeAddrs []netip.Addr) capture.Config {
	c := capture.DefaultConfig()
	for _, a := range nodeAddrs {
		c.ExemptSources = append(c.ExemptSources, netip.PrefixFrom(a, a.BitLen()))
	}
	c.ExcludeInboundPorts = nodeconfig.Ports(cfg.Capture.ExcludeInboundPorts)
	c.ExcludeOutboundPorts = nodeconfig.Ports(cfg.Capture.ExcludeOutboundPorts)
	c.ExcludeOutboundCIDRs = nodeconfig.Prefixes(cfg.Capture.ExcludeOutboundCIDRs)
	return c
}

func (a *Agent) installer(cfg nodeconfig.Config) *cni.Installer {
	return &cni.Installer{
		BinDir: a.CNIBinMount, ConfDir: a.CNIConfMount, PluginSource: a.PluginSource,
		SocketPath:     filepath.Join(a.SocketDir, CNISocket),
		KubeconfigPath: filepath.Join(cfg.CNI.ConfDir, kubeconfigName),
		KubeconfigFile: filepath.Join(a.CNIConfMount, kubeconfigName),
		LogFile:        filepath.Join(a.SocketDir, "cni.log"),
		// The ztunnel's own namespace too: with no ztunnel and no API, its
		// own pod must still be able to start.
		ExcludedNamespaces: appendMissing(cfg.ExcludedNamespaces, a.Namespace),
		Log:                a.Log.WithName("cni-install"),
	}
}

// kubeconfigName is the CNI plugin's kubeconfig in the CNI conf dir.
const kubeconfigName = "wayfabric-cni.kubeconfig"

func (a *Agent) refreshKubeconfig(ctx context.Context, path string) {
	if a.KubeTokenFile == "" {
		a.Log.Info("no service-account token file: the CNI plugin cannot ask the API when no ztunnel runs (pods then start only in excluded namespaces)")
		return
	}
	err := cni.RefreshKubeconfig(ctx, path, a.APIServer, a.APIServerCA, a.KubeTokenFile, a.Log.WithName("cni-kubeconfig"))
	if err != nil && ctx.Err() == nil {
		a.Log.Error(err, "keeping the CNI plugin's kubeconfig current")
	}
}

// reconcileLoop runs Reconcile after changes and every few seconds (pods
// whose namespace was not found yet are retried).
func (a *Agent) reconcileLoop(ctx context.Context, node *Node, w *discovery.Watcher, now <-chan struct{}) {
	t := time.NewTicker(rescanAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-now:
		case <-t.C:
		}
		if s := w.Snapshot(); s != nil {
			node.Reconcile(ctx, s)
		}
	}
}

func (a *Agent) serveAdmin(ctx context.Context, node *Node) error {
	stats := http.NewServeMux()
	stats.Handle("/metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	stats.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Status{Node: a.NodeName, Version: a.Version, Ready: a.ready.Load(),
			Draining: a.draining.Load(), CapturedPods: node.Captured(), OpenConnections: node.OpenConnections()})
	})
	ready := http.NewServeMux()
	ready.HandleFunc("/healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case a.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !a.ready.Load():
			http.Error(w, "starting: syncing with the API, taking over or adopting pods", http.StatusServiceUnavailable)
		default:
			fmt.Fprintf(w, "ready: %d pods captured\n", node.Captured())
		}
	})
	servers := []*http.Server{
		{Addr: a.StatsAddr, Handler: stats, ReadHeaderTimeout: 5 * time.Second},
		{Addr: a.ReadyAddr, Handler: ready, ReadHeaderTimeout: 5 * time.Second},
	}
	if a.DebugAddr != "" {
		debug := http.NewServeMux()
		debug.HandleFunc("/debug/pprof/", pprof.Index)
		debug.HandleFunc("/debug/pprof/profile", pprof.Profile)
		debug.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		debug.HandleFunc("/debug/pprof/trace", pprof.Trace)
		servers = append(servers, &http.Server{Addr: a.DebugAddr, Handler: debug, ReadHeaderTimeout: 5 * time.Second})
	}
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return err
		}
		go func() { _ = s.Serve(ln) }()
		go func() {
			<-ctx.Done()
			_ = s.Close()
		}()
	}
	return nil
}

func loadBundle(path string) (*identity.Bundle, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	roots, err := identity.ParseCertificatesPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("trust bundle %s: %w", path, err)
	}
	if len(roots) == 0 {
		return nil, errors.New("trust bundle " + path + " holds no certificate")
	}
	return identity.NewBundle(roots...), nil
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func appendMissing(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(slices.Clone(list), s)
}
