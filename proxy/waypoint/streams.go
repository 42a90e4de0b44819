package waypoint

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

type dstKey struct{}

type srcKey struct{}

// clientNSKey: the namespace of a stream's client workload (consumer routes).
type clientNSKey struct{}

// WithSource records the original client address of a stream (from HBONE's
// Forwarded header); the proxy appends it to X-Forwarded-For.
func WithSource(ctx context.Context, src netip.AddrPort) context.Context {
	return context.WithValue(ctx, srcKey{}, src)
}

// streamConn is an inner stream with the destination it was addressed to.
// Bytes read while sniffing are replayed first.
type streamConn struct {
	net.Conn
	dst      netip.AddrPort
	src      netip.AddrPort // original client, when known
	peer     identity.ID    // verified identity of the tunnel's client, when known
	clientNS string         // client's namespace (consumer routes), when known
	br       *bufio.Reader
	pending  []byte // read by the fast path, replayed to net/http after a handover
	once     sync.Once
	onClose  func()
}

func (c *streamConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

func (c *streamConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

// streamListener hands streams to an http.Server.
type streamListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newStreamListener() *streamListener {
	return &streamListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *streamListener) push(ctx context.Context, c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *streamListener) Addr() net.Addr { return streamAddr{} }

type streamAddr struct{}

func (streamAddr) Network() string { return "stream" }
func (streamAddr) String() string  { return "stream" }
