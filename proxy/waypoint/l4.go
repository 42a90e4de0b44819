package waypoint

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// ErrNoEndpoint: an L4 stream's service has no ready endpoint.
var ErrNoEndpoint = errors.New("waypoint: no ready endpoint")

// serveL4 passes a non-HTTP stream through to an endpoint of the
// destination service, byte for byte, with half-close in both directions.
func (p *Proxy) serveL4(ctx context.Context, c *streamConn, d *routing.Destination) error {
	defer c.Close()
	if d.Self == nil || d.Self.Invalid != "" || len(d.Self.Endpoints) == 0 {
		return ErrNoEndpoint
	}
	ep, release := p.lb.pick(d.Self.Endpoints, netip.AddrPort{})
	defer release()
	dialer := p.cfg.PlainDialer
	if ep.InMesh {
		dialer = p.cfg.MeshDialer
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	up, err := dialer.DialStream(dctx, ep)
	cancel()
	if err != nil {
		return err
	}
	p.trackL4(up, true)
	p.trackL4(c, true)
	defer func() {
		p.trackL4(up, false)
		p.trackL4(c, false)
		up.Close()
	}()
	errc := make(chan error, 2)
	go func() { errc <- pipe(up, c) }()
	go func() { errc <- pipe(c, up) }()
	err = <-errc
	if err != nil {
		// One side failed: abort the other rather than wait for it.
		c.Close()
		up.Close()
	}
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

type closeWriter interface{ CloseWrite() error }

// pipe copies src to dst and half-closes dst when src ends.
func pipe(dst, src net.Conn) error {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(closeWriter); ok {
		_ = cw.CloseWrite()
	} else if sc, ok := dst.(*streamConn); ok {
		if cw, ok := sc.Conn.(closeWriter); ok {
			_ = cw.CloseWrite()
		}
	}
	return err
}

func (p *Proxy) trackL4(c net.Conn, add bool) {
	p.l4mu.Lock()
	defer p.l4mu.Unlock()
	if add {
		p.l4conns[c] = struct{}{}
	} else {
		delete(p.l4conns, c)
	}
}

func (p *Proxy) closeL4() {
	p.l4mu.Lock()
	defer p.l4mu.Unlock()
	for c := range p.l4conns {
		c.Close()
	}
}
