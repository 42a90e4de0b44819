package ztunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// podProxy serves one captured pod: its three listeners live in the pod's
// network namespace, and every socket it opens there carries a mark that
// the pod's rules let through.
type podProxy struct {
	n        *Node
	uid      types.UID
	key      types.NamespacedName
	id       identity.ID
	ips      []netip.Addr
	ns       *netns.NS
	workload string // metric label
	log      logr.Logger

	ctx    context.Context
	cancel context.CancelFunc
	client *hbone.Client
	hbone  *hbone.Server

	mu        sync.Mutex
	listeners []*portListener
	conns     map[net.Conn]struct{}
	// inbound holds the authorization request of each open inbound
	// connection, re-evaluated when policies change.
	inbound   map[net.Conn]*authz.L4Request
	accepting bool
	wg        sync.WaitGroup // accept loops and connection handlers
}

// portListener is one of a pod's listeners and what serves it.
type portListener struct {
	port uint16
	l    *net.TCPListener
}

func (p *podProxy) String() string { return p.key.String() }

// serve starts the accept loops on p.listeners.
func (p *podProxy) serve() {
	p.mu.Lock()
	p.accepting = true
	ls := append([]*portListener(nil), p.listeners...)
	p.mu.Unlock()
	for _, pl := range ls {
		p.wg.Add(1)
		switch pl.port {
		case p.n.cfg.Capture.HBONEPort:
			go func() {
				defer p.wg.Done()
				if err := p.hbone.Serve(pl.l); err != nil && !errors.Is(err, hbone.ErrServerClosed) && p.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					p.log.Error(err, "HBONE listener failed")
				}
			}()
		default:
			handle := p.serveOutbound
			if pl.port == p.n.cfg.Capture.InboundPort {
				handle = p.servePlaintextInbound
			}
			go p.acceptLoop(pl, handle)
		}
	}
}

func (p *podProxy) acceptLoop(pl *portListener, handle func(*net.TCPConn)) {
	defer p.wg.Done()
	for {
		c, err := pl.l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: back off instead of spinning.
			p.log.Error(err, "accept failed", "port", pl.port)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// Accepted is ours to serve, also in the instant between a handover
		// and this listener's close: closing it would fail a client that the
		// successor never saw (EOFs seen on the real node during upgrades).
		p.track(c, true, true)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.track(c, false, false)
			handle(c)
		}()
	}
}

// track registers an open connection (so a drain can end it cleanly);
// it refuses new ones once the pod stopped accepting, unless always (HBONE
// streams the server already promised to process before its GOAWAY).
func (p *podProxy) track(c net.Conn, add, always bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.conns, c)
		return true
	}
	if !p.accepting && !always {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// stopAccepting closes this process's copies of the listeners. When a new
// ztunnel holds the same sockets (handover) nothing is refused: the kernel
// keeps the socket and its accept queue for the new owner.
func (p *podProxy) stopAccepting() {
	p.mu.Lock()
	p.accepting = false
	ls := p.listeners
	p.mu.Unlock()
	for _, pl := range ls {
		_ = pl.l.Close()
	}
	// Open HBONE connections move their new streams to the new owner.
	p.hbone.Drain()
}

// closeConns ends what is still open: FIN both ways for TCP, END_STREAM
// for tunnels; never a silent hang.
func (p *podProxy) closeConns() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// openConns counts connections still open.
func (p *podProxy) openConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// stop ends everything: listeners, then (after drain, if any) connections.
func (p *podProxy) stop(drain time.Duration) {
	p.stopAccepting() // GOAWAY now: waypoints stop reusing their kept-alive streams here
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) && p.openConns() > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	p.closeConns()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = p.hbone.Shutdown(ctx)
	cancel()
	p.cancel()
	_ = p.client.Close()
	p.wg.Wait()
	_ = p.ns.Close()
}

// dialer dials from inside the pod's namespace with the bypass mark, so
// the pod's rules let ztunnel's own connections out.
func (p *podProxy) dialer(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return p.ns.DialTCP(ctx, ap, netns.DialOptions{Mark: p.n.cfg.Capture.BypassMark})
}
