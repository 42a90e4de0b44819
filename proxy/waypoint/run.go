package waypoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/waypoint/config"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// Run is the waypoint process: it serves until ctx ends (SIGTERM), then
// drains: readiness fails → GOAWAY / Connection: close → accept window →
// stop accepting → in-flight requests finish → return, all within o.Drain.
func Run(ctx context.Context, o RunOptions, log logr.Logger) error {
	wp := routing.Waypoint{Namespace: o.Namespace, Name: o.Name, For: o.WaypointFor}
	cfg := Config{Log: log, NodeProxyNamespace: o.NodeProxyNamespace}
	// Certificates keep renewing through the drain, so not tied to ctx.
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	if o.MemoryLimitPercent > 0 {
		go followMemoryLimit(bg, o.MemoryLimitPercent, memoryLimitInterval, log.WithName("memory"))
	}
	var id *meshIdentity
	if o.HBONEAddr != "" {
		var err error
		if id, err = newMeshIdentity(bg, o, log); err != nil {
			return err
		}
		hcli, err := hbone.NewClient(hbone.ClientConfig{Certs: id.certs, Bundle: id.bundle, Log: log.WithName("hbone-client")})
		if err != nil {
			return err
		}
		defer hcli.Close()
		cfg.MeshDialer = &HBONEDialer{Client: hcli, Source: id.self, TrustDomain: o.TrustDomain, Port: o.HBONEPeerPort}
		cfg.ReadinessChecks = append(cfg.ReadinessChecks, startCertGate(bg, id.certs, id.self, log).Check)
	}
	p := New(cfg)
	var hsrv *hbone.Server

	loadCtx, stopLoading := context.WithCancel(bg)
	defer stopLoading()
	loadErr := make(chan error, 1)
	if o.StaticConfig != "" {
		in, err := config.LoadFile(o.StaticConfig, wp)
		if err != nil {
			return fmt.Errorf("static config: %w", err)
		}
		t := routing.Compile(in)
		for _, s := range t.Skipped {
			log.Info("HTTPRoute not applied", "route", s.Route.String(), "rule", s.Rule, "reason", s.Reason)
		}
		for _, pol := range t.Policies.Policies() {
			if pol.Err != nil {
				log.Info("AuthorizationPolicy does not compile: it denies everything it selects", "policy", pol.Key, "error", pol.Err.Error())
			}
		}
		p.SetTable(t)
	} else {
		rc, err := restConfig(o.Kubeconfig)
		if err != nil {
			return err
		}
		l := &config.Loader{Waypoint: wp, Kube: kubernetes.NewForConfigOrDie(rc), Gateway: gwclient.NewForConfigOrDie(rc),
			Dynamic: dynamic.NewForConfigOrDie(rc), Apply: p.SetTable, Log: log.WithName("config")}
		go func() { loadErr <- l.Run(loadCtx) }()
	}

	servers := []*http.Server{
		{Addr: o.StatsAddr, Handler: p.StatsHandler(), ReadHeaderTimeout: 5 * time.Second},
		{Addr: o.ReadyAddr, Handler: p.ReadyHandler(), ReadHeaderTimeout: 5 * time.Second},
	}
	if o.DebugAddr != "" {
		servers = append(servers, &http.Server{Addr: o.DebugAddr, Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second})
	}
	var listeners []net.Listener
	serveErr := make(chan error, 4+len(o.Plaintext))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return err
		}
		go func() { serveErr <- s.Serve(ln) }()
	}
	for _, pl := range o.Plaintext {
		ln, err := net.Listen("tcp", pl.Listen)
		if err != nil {
			return err
		}
		listeners = append(listeners, ln)
		go func() { serveErr <- p.ServeTCP(ln, pl.Destination) }()
		log.Info("plaintext listener", "listen", ln.Addr().String(), "destination", pl.Destination.String())
	}
	if id != nil {
		var err error
		hsrv, err = hbone.NewServer(hbone.ServerConfig{
			TLS: identity.ServerTLS{Certs: id.certs, Bundle: id.bundle, LocalID: id.self, Authorize: identity.InTrustDomain(o.TrustDomain)}.Config(),
			// Node proxies set Forwarded on their workloads' behalf; nobody else is believed.
			TrustForwarded: hbone.TrustMeshComponents(o.NodeProxyNamespace, nil),
			Log:            log.WithName("hbone-server"),
		}, p.HBONEHandler())
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", o.HBONEAddr)
		if err != nil {
			return err
		}
		go func() { serveErr <- hsrv.Serve(ln) }()
	}
	log.Info("waypoint serving", "namespace", o.Namespace, "name", o.Name, "hbone", o.HBONEAddr, "stats", o.StatsAddr, "ready", o.ReadyAddr)

	select {
	case <-ctx.Done():
	case err := <-loadErr:
		return fmt.Errorf("configuration loader stopped: %w", err)
	case err := <-serveErr:
		if !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}

	accept, total := o.drainTimes()
	deadline := time.Now().Add(total)
	log.Info("draining", "acceptFor", accept.String(), "exitBy", total.String(), "inFlight", p.Recorder().InFlight())
	p.StartDrain()
	if hsrv != nil {
		hsrv.Drain() // GOAWAY on every HBONE connection; ztunnels open new ones elsewhere
	}
	time.Sleep(accept)
	for _, ln := range listeners {
		ln.Close()
	}
	dctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// Concurrently: the proxy closing idle inner connections is what lets
	// the HBONE server's streams end.
	errc := make(chan error, 1)
	go func() { errc <- p.Shutdown(dctx) }()
	var errs []error
	if hsrv != nil {
		errs = append(errs, hsrv.Shutdown(dctx))
	}
	errs = append(errs, <-errc)
	stopLoading()
	for _, s := range servers {
		_ = s.Close()
	}
	return errors.Join(errs...)
}

func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}

// meshIdentity is this pod's SPIFFE identity, its certificates (from the
// mesh CA, renewed at half life) and the trust bundle.
type meshIdentity struct {
	self   identity.ID
	certs  identity.CertProvider
	bundle *identity.Bundle
}

func newMeshIdentity(ctx context.Context, o RunOptions, log logr.Logger) (*meshIdentity, error) {
	self, err := identity.New(o.TrustDomain, o.Namespace, o.ServiceAccount)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(o.RootCertFile)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	roots, err := identity.ParseCertificatesPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	bundle := identity.NewBundle(roots...)
	if o.CertFile != "" {
		certs, err := staticCerts(self, o.CertFile, o.KeyFile)
		return &meshIdentity{self: self, certs: certs, bundle: bundle}, err
	}
	issuer := &identity.CAClient{URL: o.CAURL, ServerName: o.CAServerName, Token: identity.TokenFile(o.TokenFile), Bundle: bundle}
	return &meshIdentity{self: self, certs: identity.NewCertCache(ctx, issuer, bundle, identity.CacheOptions{Log: log.WithName("certs")}), bundle: bundle}, nil
}
