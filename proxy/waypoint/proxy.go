// Package waypoint is the L7 proxy: it reads each inner stream (from an
// HBONE tunnel or, in tests, a TCP connection) as HTTP/1.1 or HTTP/2, routes
// requests with the compiled HTTPRoute table and forwards them to endpoints
// over HBONE (in-mesh) or plain TCP (out-of-mesh). Non-HTTP streams are
// passed through as L4.
package waypoint

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wayfabric/wayfabric/proxy/waypoint/loadreport"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// Config configures a Proxy. Zero values get the documented defaults.
type Config struct {
	// MeshDialer reaches in-mesh endpoints (HBONE). Nil dials plain TCP,
	// which is only right for tests.
	MeshDialer StreamDialer
	// PlainDialer reaches out-of-mesh endpoints. Nil uses a net.Dialer.
	PlainDialer StreamDialer
	// MaxHeaderBytes bounds request headers (default 64 KiB; larger get 431).
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds how long a client may take to send headers
	// (slowloris), default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle client keep-alive connections, default 120 s.
	IdleTimeout time.Duration
	// SniffTimeout is how long to wait for the first bytes of a stream whose
	// port declares no protocol before treating it as L4 (default 300 ms).
	SniffTimeout time.Duration
	// MaxReplayBody is the largest request body kept for retries and
	// mirrors (default 64 KiB); larger bodies are streamed once.
	MaxReplayBody int64
	// MaxIdleConnsPerEndpoint for upstream pools (default 64).
	MaxIdleConnsPerEndpoint int
	// ReadinessChecks are extra conditions for /healthz/ready, such as
	// holding a workload certificate: while one returns an error, readiness
	// fails with that error, so no traffic arrives that could only be refused.
	ReadinessChecks []func() error
	// NodeProxyNamespace is where node proxies' identities live (the
	// operator namespace): their own identity names no client namespace.
	NodeProxyNamespace string
	Log                logr.Logger
}

func (c *Config) defaults() {
	if c.MeshDialer == nil {
		c.MeshDialer = &TCPDialer{}
	}
	if c.PlainDialer == nil {
		c.PlainDialer = &TCPDialer{Dialer: net.Dialer{Timeout: 5 * time.Second}}
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.SniffTimeout <= 0 {
		c.SniffTimeout = 300 * time.Millisecond
	}
	if c.MaxReplayBody <= 0 {
		c.MaxReplayBody = 64 << 10
	}
	if c.MaxIdleConnsPerEndpoint <= 0 {
		c.MaxIdleConnsPerEndpoint = 64
	}
	if c.Log.GetSink() == nil {
		c.Log = logr.Discard()
	}
}

// Proxy is one waypoint's data plane.
type Proxy struct {
	cfg      Config
	table    atomic.Pointer[routing.Table]
	rec      *loadreport.Recorder
	metrics  *loadreport.Metrics
	lb       *balancer
	up       *upstreams
	mirrors  chan struct{} // semaphore bounding mirrored requests in flight
	draining atomic.Bool
	closed   atomic.Bool
	panics   atomic.Int64
	// handovers counts streams the fast HTTP/1.1 path gave to net/http.
	handovers atomic.Int64
	// authzStats and denyLogs serve authorization (authz.go).
	authzStats *authzMetrics
	denyLogs   *logLimiter

	// main serves streams until drain starts; drainSrv serves the streams
	// that still arrive during drain with keep-alives off.
	main, drainSrv     *http.Server
	mainLn, drainLn    *streamListener
	serveWG, streamsWG sync.WaitGroup
	l4mu               sync.Mutex
	l4conns            map[net.Conn]struct{}
	h1conns            map[*h1conn]struct{} // fast-path HTTP/1 streams (guarded by l4mu)
}

// New returns a Proxy serving an empty table (every destination unknown)
// until SetTable is called.
func New(cfg Config) *Proxy {
	cfg.defaults()
	p := &Proxy{
		cfg:     cfg,
		rec:     loadreport.New(),
		lb:      newBalancer(),
		mirrors: make(chan struct{}, 256),
		l4conns: map[net.Conn]struct{}{},
		h1conns: map[*h1conn]struct{}{},
	}
	p.metrics = loadreport.NewMetrics(p.rec)
	p.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wayfabric_waypoint_handler_panics_total",
		Help: "Requests whose handling panicked (answered 500); any value above 0 is a bug.",
	}, func() float64 { return float64(p.panics.Load()) }))
	p.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wayfabric_waypoint_http1_handovers_total",
		Help: "Streams the fast HTTP/1.1 path handed over to net/http: HTTP/2, upgrades, Expect, chunked uploads, and routes with features it leaves to net/http.",
	}, func() float64 { return float64(p.handovers.Load()) }))
	p.authzStats, p.denyLogs = newAuthzMetrics(p.metrics.Registry), newLogLimiter(10, 50)
	p.up = newUpstreams(cfg.MeshDialer, cfg.PlainDialer, cfg.MaxIdleConnsPerEndpoint)
	p.main, p.mainLn = p.newServer(false), newStreamListener()
	p.drainSrv, p.drainLn = p.newServer(true), newStreamListener()
	for _, s := range []struct {
		srv *http.Server
		ln  *streamListener
	}{{p.main, p.mainLn}, {p.drainSrv, p.drainLn}} {
		p.serveWG.Add(1)
		go func() {
			defer p.serveWG.Done()
			_ = s.srv.Serve(s.ln)
		}()
	}
	return p
}

func (p *Proxy) newServer(draining bool) *http.Server {
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	s := &http.Server{
		Handler:           p,
		Protocols:         protos,
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		ReadHeaderTimeout: p.cfg.ReadHeaderTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if sc, ok := c.(*streamConn); ok {
				ctx = context.WithValue(ctx, dstKey{}, sc.dst)
				if sc.src.IsValid() {
					ctx = context.WithValue(ctx, srcKey{}, sc.src)
				}
				if !sc.peer.IsZero() {
					ctx = WithPeer(ctx, sc.peer)
				}
				if sc.clientNS != "" {
					ctx = context.WithValue(ctx, clientNSKey{}, sc.clientNS)
				}
				return ctx
			}
			return ctx
		},
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 250, MaxReceiveBufferPerStream: 1 << 20},
	}
	if draining {
		// Streams opened during drain: HTTP/1 answers carry Connection: close,
		// an idle HTTP/2 connection gets GOAWAY almost at once.
		s.SetKeepAlivesEnabled(false)
		s.IdleTimeout = 100 * time.Millisecond
	}
	return s
}

// SetTable swaps in a new routing table; requests in progress keep the old one.
func (p *Proxy) SetTable(t *routing.Table) {
	if t != nil {
		p.authzStats.update(t.Policies)
	}
	p.table.Store(t)
	if t != nil {
		p.reauthorizeStreams(t)
	}
}

// Table returns the table in use (nil before the first SetTable).
func (p *Proxy) Table() *routing.Table { return p.table.Load() }

// Recorder exposes the load recorder (for the admin server).
func (p *Proxy) Recorder() *loadreport.Recorder { return p.rec }

// Metrics exposes the Prometheus metrics.
func (p *Proxy) Metrics() *loadreport.Metrics { return p.metrics }

// Ready reports whether the proxy should receive new traffic: it has a
// configuration and is not draining.
func (p *Proxy) Ready() bool { return p.table.Load() != nil && !p.draining.Load() }

// Draining reports whether drain has started.
func (p *Proxy) Draining() bool { return p.draining.Load() }

// ErrUnknownDestination: the stream's target is not a Service port that uses this waypoint.
var ErrUnknownDestination = errors.New("waypoint: destination does not use this waypoint")

// ErrDenied: an authorization policy refused the stream.
var ErrDenied = errors.New("waypoint: denied by authorization policy")

// ErrClosed: the proxy has shut down.
var ErrClosed = errors.New("waypoint: closed")

// Accepts reports whether ServeStream would take a stream for dst; the HBONE
// handler uses it to refuse a CONNECT (503) before accepting the tunnel.
func (p *Proxy) Accepts(dst netip.AddrPort) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if p.table.Load().Lookup(dst) == nil {
		return ErrUnknownDestination
	}
	return nil
}

// ServeStream serves one inner stream addressed to dst and returns when it is
// finished. It takes ownership of conn.
func (p *Proxy) ServeStream(ctx context.Context, conn net.Conn, dst netip.AddrPort) error {
	if err := p.Accepts(dst); err != nil {
		conn.Close()
		return err
	}
	p.streamsWG.Add(1)
	defer p.streamsWG.Done()
	d := p.table.Load().Lookup(dst)
	sc := &streamConn{Conn: conn, dst: dst}
	sc.src, _ = ctx.Value(srcKey{}).(netip.AddrPort)
	sc.peer = peerFrom(ctx)
	sc.clientNS = p.clientNamespace(sc.peer)
	proto := d.Protocol
	if proto == routing.ProtocolSniff {
		proto = sniff(sc, p.cfg.SniffTimeout)
	}
	if proto == routing.ProtocolTCP {
		if !p.admitStream(ctx, sc, d) {
			conn.Close()
			return ErrDenied
		}
		return p.serveL4(ctx, sc, d)
	}
	return p.serveH1(ctx, sc)
}

// StartDrain fails readiness and asks clients to go elsewhere: HTTP/2
// connections get GOAWAY, HTTP/1 keep-alives get Connection: close, idle
// connections close. Requests in flight continue; new streams are still
// served (the endpoint removal takes time to reach every client).
func (p *Proxy) StartDrain() {
	if p.draining.Swap(true) {
		return
	}
	go func() { _ = p.main.Shutdown(context.Background()) }()
	p.closeIdleH1()
}

// Shutdown stops taking streams and waits for everything in flight, until
// ctx ends; then it closes what is left.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.StartDrain()
	p.closed.Store(true)
	errc := make(chan error, 2)
	for _, s := range []*http.Server{p.main, p.drainSrv} {
		go func() { errc <- s.Shutdown(ctx) }()
	}
	err := errors.Join(<-errc, <-errc)
	done := make(chan struct{})
	go func() {
		p.streamsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		p.closeL4()
		p.closeH1()
		_ = p.main.Close()
		_ = p.drainSrv.Close()
		<-done
		err = errors.Join(err, ctx.Err())
	}
	p.serveWG.Wait()
	p.up.closeIdle()
	return err
}
