package waypoint

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// StreamDialer opens a byte stream to an endpoint: plain TCP for
// out-of-mesh destinations, an HBONE tunnel for in-mesh ones.
type StreamDialer interface {
	DialStream(ctx context.Context, ep routing.Endpoint) (net.Conn, error)
}

// TCPDialer dials endpoints directly.
type TCPDialer struct{ Dialer net.Dialer }

// DialStream implements StreamDialer.
func (d *TCPDialer) DialStream(ctx context.Context, ep routing.Endpoint) (net.Conn, error) {
	return d.Dialer.DialContext(ctx, "tcp", ep.Addr.String())
}

type endpointKey struct{}

// upstreams holds the upstream clients per (dialer, protocol): the inline
// HTTP/1.1 client, and net/http Transports for HTTP/2 (h2c) and protocol
// upgrades. The endpoint travels in the request context; URL.Host is its
// address, so each endpoint gets its own connection pool.
type upstreams struct {
	mesh, meshH2C, plain, plainH2C *http.Transport
	meshH1, plainH1                *inlineH1Client
}

func newUpstreams(mesh, plain StreamDialer, maxIdlePerHost int) *upstreams {
	mk := func(d StreamDialer, h2c bool) *http.Transport {
		t := &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				ep, ok := ctx.Value(endpointKey{}).(routing.Endpoint)
				if !ok {
					ap, err := netip.ParseAddrPort(addr)
					if err != nil {
						return nil, err
					}
					ep = routing.Endpoint{Addr: ap}
				}
				return d.DialStream(ctx, ep)
			},
			MaxIdleConns:          0,
			MaxIdleConnsPerHost:   maxIdlePerHost,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 0, // route timeouts govern
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true, // a proxy must not change encodings
		}
		if h2c {
			p := new(http.Protocols)
			p.SetUnencryptedHTTP2(true)
			t.Protocols = p
		}
		return t
	}
	return &upstreams{mesh: mk(mesh, false), meshH2C: mk(mesh, true), plain: mk(plain, false), plainH2C: mk(plain, true),
		meshH1: newInlineH1Client(mesh, maxIdlePerHost), plainH1: newInlineH1Client(plain, maxIdlePerHost)}
}

// pick returns the client for an endpoint. upgrade requests (WebSocket) go
// through net/http, which hands back the switched connection.
func (u *upstreams) pick(ep routing.Endpoint, h2c, upgrade bool) http.RoundTripper {
	switch {
	case !h2c && !upgrade && ep.InMesh:
		return u.meshH1
	case !h2c && !upgrade:
		return u.plainH1
	case ep.InMesh && h2c:
		return u.meshH2C
	case ep.InMesh:
		return u.mesh
	case h2c:
		return u.plainH2C
	}
	return u.plain
}

func (u *upstreams) closeIdle() {
	for _, t := range []*http.Transport{u.mesh, u.meshH2C, u.plain, u.plainH2C} {
		t.CloseIdleConnections()
	}
	u.meshH1.closeIdle()
	u.plainH1.closeIdle()
}
