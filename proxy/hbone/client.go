package hbone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// DialRequest says where a tunnel goes and who is at each end.
type DialRequest struct {
	// Target is the final destination ip:port, sent as :authority.
	Target netip.AddrPort
	// Proxy is the HBONE endpoint to connect to (the destination node's
	// ztunnel or a waypoint). Zero means Target's address on port 15008.
	Proxy netip.AddrPort
	// SourceIdentity is the identity we present (a ztunnel holds one per
	// local workload service account).
	SourceIdentity identity.ID
	// PeerIdentity is the identity the HBONE endpoint must prove.
	PeerIdentity identity.ID
	// Forwarded is the original source address, sent as Forwarded: for=.
	Forwarded netip.AddrPort
	// Header carries extra request header fields (lower-case names).
	Header http.Header
}

// ClientConfig configures a Client.
type ClientConfig struct {
	Certs  identity.CertProvider
	Bundle *identity.Bundle
	// MaxStreamsPerConn caps streams on one connection; more open a new
	// connection (default 100, also capped by the server's SETTINGS).
	MaxStreamsPerConn uint32
	// IdleTimeout closes connections with no stream for this long (default 90s).
	IdleTimeout time.Duration
	Flow        FlowOptions
	// DialContext dials TCP; nil uses a net.Dialer. Tests and network
	// namespaces hook in here.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	Log         logr.Logger
	// Metrics, if set, records handshakes and streams (see NewMetrics).
	Metrics *Metrics
}

// Client opens HBONE tunnels over pooled connections: one pool per
// (source identity, destination identity, destination address).
type Client struct {
	cfg ClientConfig

	mu     sync.Mutex
	pools  map[poolKey]*pool
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

type poolKey struct {
	src, dst identity.ID
	addr     netip.AddrPort
}

type pool struct {
	conns   []*conn
	dialing chan struct{} // non-nil while a connection is being dialled
}

// NewClient returns a Client. Call Close to release its connections.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Certs == nil || cfg.Bundle == nil {
		return nil, errors.New("hbone: ClientConfig needs Certs and Bundle")
	}
	if cfg.MaxStreamsPerConn == 0 {
		cfg.MaxStreamsPerConn = 100
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 90 * time.Second
	}
	cfg.Flow = cfg.Flow.withDefaults()
	if cfg.DialContext == nil {
		d := &net.Dialer{Timeout: handshakeTimeout, KeepAlive: 30 * time.Second}
		cfg.DialContext = d.DialContext
	}
	if cfg.Log.GetSink() == nil {
		cfg.Log = logr.Discard()
	}
	c := &Client{cfg: cfg, pools: map[poolKey]*pool{}, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.reapIdle()
	return c, nil
}

// ConnectError is a non-2xx answer to CONNECT (503: the target refused or
// is unreachable; 403: denied by policy).
type ConnectError struct {
	Status int
	Target netip.AddrPort
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("hbone: CONNECT %s answered %d %s", e.Target, e.Status, http.StatusText(e.Status))
}

// Dial opens a tunnel and returns once the peer accepted it (200). A
// refusal is an error (*ConnectError, *StreamResetError or a TLS/identity
// error, see identity.ReasonOf), never a stream that hangs.
func (c *Client) Dial(ctx context.Context, req DialRequest) (*Stream, error) {
	if !req.Target.IsValid() || req.Target.Port() == 0 {
		return nil, fmt.Errorf("hbone: invalid target %v", req.Target)
	}
	if err := req.SourceIdentity.Validate(); err != nil {
		return nil, fmt.Errorf("hbone: source identity: %w", err)
	}
	if err := req.PeerIdentity.Validate(); err != nil {
		return nil, fmt.Errorf("hbone: peer identity: %w", err)
	}
	if !req.Proxy.IsValid() {
		req.Proxy = netip.AddrPortFrom(req.Target.Addr(), Port)
	}
	key := poolKey{src: req.SourceIdentity, dst: req.PeerIdentity, addr: req.Proxy}
	// A stream refused before processing (GOAWAY race, REFUSED_STREAM) is
	// safe to retry on another connection.
	for attempt := 0; ; attempt++ {
		cn, err := c.getConn(ctx, key)
		if err != nil {
			return nil, err
		}
		s, err := cn.openStream(ctx, &req)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errRefused) || attempt >= 3 {
			return nil, err
		}
	}
}

// getConn returns a pooled connection with room for a stream, dialling a
// new one (once, shared by concurrent callers) if needed.
func (c *Client) getConn(ctx context.Context, key poolKey) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errors.New("hbone: client closed")
		}
		p := c.pools[key]
		if p == nil {
			p = &pool{}
			c.pools[key] = p
		}
		for _, cn := range p.conns {
			if c.hasRoom(cn) {
				cn.mu.Lock()
				reserved := cn.reserveLocked(c.cfg.MaxStreamsPerConn)
				cn.mu.Unlock()
				if reserved {
					c.mu.Unlock()
					return cn, nil
				}
			}
		}
		if p.dialing != nil {
			wait := p.dialing
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		p.dialing = done
		c.mu.Unlock()

		cn, err := c.dialConn(ctx, key)

		c.mu.Lock()
		p.dialing = nil
		close(done)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		select {
		case <-cn.done: // died already; its onClose found nothing to remove
		default:
			p.conns = append(p.conns, cn)
		}
		c.mu.Unlock()
	}
}

// hasRoom is a cheap pre-check; reserveLocked decides under the conn lock.
func (c *Client) hasRoom(cn *conn) bool {
	select {
	case <-cn.done:
		return false
	default:
		return true
	}
}

// reserveLocked reserves a stream slot (released by openStream).
func (cn *conn) reserveLocked(limit uint32) bool {
	if cn.err != nil || cn.goAwayRecv || cn.goAwaySent || cn.nextID > maxWindow-2 {
		return false
	}
	if !cn.expires.IsZero() && !time.Now().Before(cn.expires) {
		return false
	}
	if uint32(len(cn.streams)+cn.reserved) >= min(limit, cn.peerMaxStreams) {
		return false
	}
	cn.reserved++
	return true
}

func (c *Client) dialConn(ctx context.Context, key poolKey) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	nc, err := c.cfg.DialContext(ctx, "tcp", key.addr.String())
	if err != nil {
		return nil, fmt.Errorf("hbone: dial %s: %w", key.addr, err)
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	tcfg := identity.ClientTLS{
		Certs: c.cfg.Certs, Bundle: c.cfg.Bundle, Local: key.src, Expect: identity.Exactly(key.dst),
	}.Config()
	tcfg.DynamicRecordSizingDisabled = true
	tc := tls.Client(newBatchConn(nc), tcfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		c.cfg.Log.Info("hbone: peer rejected", "addr", key.addr.String(), "expected", key.dst.String(),
			"reason", string(reasonOf(err)), "error", err.Error())
		c.cfg.Metrics.handshakeFailed(true, string(reasonOf(err)))
		return nil, fmt.Errorf("hbone: TLS to %s (%s): %w", key.addr, key.dst, err)
	}
	cn := newConn(tc, true, c.cfg.Flow, 0, c.cfg.Log)
	cn.metrics = c.cfg.Metrics
	if cert, err := c.cfg.Certs.GetCertificate(ctx, key.src); err == nil && cert.Leaf != nil {
		if cn.expires.IsZero() || cert.Leaf.NotAfter.Before(cn.expires) {
			cn.expires = cert.Leaf.NotAfter
		}
	}
	cn.onClose = func(cn *conn) { c.remove(key, cn) }
	if err := cn.start(); err != nil {
		return nil, err
	}
	// In TLS 1.3 the server checks our certificate after our handshake
	// returns; waiting for its SETTINGS surfaces a refusal here, not on the
	// first stream.
	select {
	case <-cn.settingsRecv:
		return cn, nil
	case <-cn.done:
		cn.mu.Lock()
		err := cn.err
		cn.mu.Unlock()
		c.cfg.Log.Info("hbone: peer closed the connection before SETTINGS (did it reject our certificate?)",
			"addr", key.addr.String(), "source", key.src.String(), "error", err.Error())
		c.cfg.Metrics.handshakeFailed(true, "rejected_by_peer")
		return nil, fmt.Errorf("hbone: %s refused the connection: %w", key.addr, err)
	case <-ctx.Done():
		cn.close(ctx.Err())
		return nil, fmt.Errorf("hbone: waiting for SETTINGS from %s: %w", key.addr, ctx.Err())
	}
}

func (c *Client) remove(key poolKey, cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pools[key]
	if p == nil {
		return
	}
	for i, x := range p.conns {
		if x == cn {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			break
		}
	}
	if len(p.conns) == 0 && p.dialing == nil {
		delete(c.pools, key)
	}
}

// openStream sends the CONNECT on a slot reserved by getConn and waits for
// the answer.
func (cn *conn) openStream(ctx context.Context, req *DialRequest) (*Stream, error) {
	var hdrArr [4]hpack.HeaderField // the usual request fits: no allocation for the list
	hdr := append(hdrArr[:0],
		hpack.HeaderField{Name: ":method", Value: http.MethodConnect},
		hpack.HeaderField{Name: ":authority", Value: req.Target.String()})
	if req.Forwarded.IsValid() {
		hdr = append(hdr, hpack.HeaderField{Name: "forwarded", Value: FormatForwarded(req.Forwarded)})
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hdr = append(hdr, hpack.HeaderField{Name: lower(k), Value: v})
		}
	}
	var s *Stream
	// Stream ids must reach the wire in increasing order: allocate the id
	// and write HEADERS under the same write lock.
	err := cn.writeFrames(func() error {
		cn.mu.Lock()
		cn.reserved--
		if cn.err != nil || cn.goAwayRecv || cn.goAwaySent {
			cn.mu.Unlock()
			return errRefused
		}
		id := cn.nextID
		cn.nextID += 2
		s = cn.newStreamLocked(id)
		cn.mu.Unlock()
		cn.hbuf.Reset()
		for _, hf := range hdr {
			_ = cn.henc.WriteField(hf)
		}
		return cn.writeHeaderBlock(s.id, cn.hbuf.Bytes(), false)
	})
	if err != nil {
		if s == nil {
			return nil, err
		}
		return nil, fmt.Errorf("hbone: send CONNECT: %w", err)
	}
	s.localNet = cn.nc.LocalAddr()
	s.remoteAP = req.Target

	if ctx.Done() != nil { // a context that can end wakes the wait below
		stop := context.AfterFunc(ctx, func() {
			cn.mu.Lock()
			s.rcond.Broadcast()
			cn.mu.Unlock()
		})
		defer stop()
	}
	cn.mu.Lock()
	for s.status == 0 && s.reset == nil && ctx.Err() == nil {
		s.rcond.Wait()
	}
	status, reset := s.status, s.reset
	cn.mu.Unlock()
	switch {
	case status != 0:
		cn.metrics.streamResult(true, status, "")
	case reset != nil:
		cn.metrics.streamResult(true, 0, "reset")
	}
	switch {
	case status >= 200 && status < 300:
		return s, nil
	case status != 0:
		s.Reset()
		return nil, &ConnectError{Status: status, Target: req.Target}
	case reset != nil:
		var re *StreamResetError
		if errors.As(reset, &re) && re.Remote && re.Code == http2.ErrCodeRefusedStream {
			return nil, errRefused
		}
		return nil, reset
	default:
		s.Reset()
		return nil, ctx.Err()
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// reapIdle closes connections that carried no stream for IdleTimeout.
func (c *Client) reapIdle() {
	defer c.wg.Done()
	t := time.NewTicker(max(c.cfg.IdleTimeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		var idle []*conn
		c.mu.Lock()
		for _, p := range c.pools {
			for _, cn := range p.conns {
				cn.mu.Lock()
				if len(cn.streams) == 0 && cn.reserved == 0 && time.Since(cn.idleSince) >= c.cfg.IdleTimeout {
					idle = append(idle, cn)
				}
				cn.mu.Unlock()
			}
		}
		c.mu.Unlock()
		for _, cn := range idle {
			cn.goAway()
		}
	}
}

// Stats reports pooled connections and open streams (for metrics, tests).
type Stats struct {
	Conns, Streams int
}

// Stats returns the current pool size.
func (c *Client) Stats() Stats {
	var st Stats
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pools {
		for _, cn := range p.conns {
			st.Conns++
			cn.mu.Lock()
			st.Streams += len(cn.streams)
			cn.mu.Unlock()
		}
	}
	return st
}

// Close closes every connection; streams on them fail.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var all []*conn
	for _, p := range c.pools {
		all = append(all, p.conns...)
	}
	c.mu.Unlock()
	close(c.stop)
	for _, cn := range all {
		cn.close(errors.New("hbone: client closed"))
	}
	c.wg.Wait()
	return nil
}
