package waypoint

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"

	wire "github.com/wayfabric/wayfabric/api/loadreport"
	"github.com/wayfabric/wayfabric/api/mesh"
)

// StatsHandler serves the load report (/load) and Prometheus metrics
// (/metrics): the port 15020 contract.
func (p *Proxy) StatsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(wire.Path, p.rec.Handler(p.Draining))
	mux.Handle("/metrics", p.metrics.Handler())
	return mux
}

// ReadyHandler serves /healthz/ready (port 15021): 200 while ready, 503 from
// the moment drain starts.
func (p *Proxy) ReadyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(mesh.ReadinessPath, func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case p.Draining():
			plainError(w, http.StatusServiceUnavailable, "draining\n")
		case !p.Ready():
			plainError(w, http.StatusServiceUnavailable, "no configuration yet\n")
		default:
			for _, check := range p.cfg.ReadinessChecks {
				if err := check(); err != nil {
					plainError(w, http.StatusServiceUnavailable, err.Error()+"\n")
					return
				}
			}
			_, _ = io.WriteString(w, "ready\n")
		}
	})
	return mux
}

// ServeTCP serves plain TCP connections from l as inner streams addressed to
// dst: for tests, benchmarks, and the plaintext debug listener. It returns
// when l is closed.
func (p *Proxy) ServeTCP(l net.Listener, dst netip.AddrPort) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		ctx := context.Background()
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			ctx = WithSource(ctx, ap)
		}
		go func() { _ = p.ServeStream(ctx, c, dst) }()
	}
}
