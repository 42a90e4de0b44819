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
	"golang.org/x/net/http2/hpack"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// ConnectRequest is a parsed, validated CONNECT request.
type ConnectRequest struct {
	// Target is the :authority, the ip:port to reach.
	Target netip.AddrPort
	// PeerIdentity is the verified SPIFFE identity of the tunnel's client.
	PeerIdentity identity.ID
	// Forwarded is the original source from "Forwarded: for=", if sent by a
	// peer ServerConfig.TrustForwarded trusts; otherwise it is unset, the
	// header is removed from Header, and ForwardedDropped holds its value.
	Forwarded        netip.AddrPort
	ForwardedDropped string
	// Header holds the request's regular header fields.
	Header http.Header
	// TunnelLocal and TunnelRemote are the addresses of the TLS connection.
	TunnelLocal, TunnelRemote net.Addr
}

// Handler serves one CONNECT stream. It must call stream.Accept (200) or
// stream.Reject before exchanging bytes; writing accepts implicitly, and
// returning without either answers 503. The stream is closed when the
// handler returns; ctx ends when the stream or the connection does.
type Handler interface {
	ServeHBONE(ctx context.Context, req *ConnectRequest, stream *Stream)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *ConnectRequest, stream *Stream)

// ServeHBONE implements Handler.
func (f HandlerFunc) ServeHBONE(ctx context.Context, req *ConnectRequest, s *Stream) { f(ctx, req, s) }

// ServerConfig configures a Server.
type ServerConfig struct {
	// TLS must require and verify client certificates (identity.ServerTLS
	// builds one); the server enforces TLS 1.3 and ALPN h2 on top.
	TLS *tls.Config
	// MaxConcurrentStreams per connection (default 1000).
	MaxConcurrentStreams uint32
	Flow                 FlowOptions
	Log                  logr.Logger
	// Metrics, if set, records handshakes and streams (see NewMetrics).
	Metrics *Metrics
	// TrustForwarded decides whose "Forwarded: for=" is believed: a peer may
	// claim any source, so only mesh components that set it on a
	// workload's behalf (TrustMeshComponents) should be. Nil trusts no
	// one: the source is then the tunnel's own TCP peer (Stream.RemoteAddr,
	// ConnectRequest.Source).
	TrustForwarded func(identity.ID) bool
}

// Server accepts HBONE connections.
type Server struct {
	cfg     ServerConfig
	tls     *tls.Config
	handler Handler
	log     logr.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// NewServer returns a Server dispatching CONNECT streams to handler.
func NewServer(cfg ServerConfig, handler Handler) (*Server, error) {
	if cfg.TLS == nil {
		return nil, errors.New("hbone: ServerConfig.TLS is required")
	}
	if handler == nil {
		return nil, errors.New("hbone: handler is required")
	}
	if cfg.MaxConcurrentStreams == 0 {
		cfg.MaxConcurrentStreams = 1000
	}
	cfg.Flow = cfg.Flow.withDefaults()
	if cfg.Log.GetSink() == nil {
		cfg.Log = logr.Discard()
	}
	t := cfg.TLS.Clone()
	t.MinVersion = tls.VersionTLS13
	t.NextProtos = []string{identity.ALPNH2}
	t.DynamicRecordSizingDisabled = true // full-size records: we are a bulk tunnel, not a browser
	if t.ClientAuth < tls.RequireAnyClientCert {
		return nil, errors.New("hbone: server TLS must require client certificates (mutual TLS)")
	}
	t.GetConfigForClient = alpnGate(t)
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, tls: t, handler: handler, log: cfg.Log,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
		ctx: ctx, cancel: cancel,
	}, nil
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("hbone: server closed")

// Serve accepts TCP connections on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
		}()
	}
}

func (s *Server) serveConn(nc net.Conn) {
	bc := newBatchConn(nc)
	tc := tls.Server(bc, s.tls)
	ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// The reason (wrong identity, unknown authority, expired ...) is what
		// an operator needs to see when mesh traffic is refused.
		reason, msg := string(reasonOf(err)), err.Error()
		if bc.alpnRefused != "" {
			reason, msg = "no_alpn_h2", bc.alpnRefused
		}
		s.log.Info("hbone handshake rejected", "remote", nc.RemoteAddr().String(), "reason", reason, "error", msg)
		s.cfg.Metrics.handshakeFailed(false, reason)
		nc.Close()
		return
	}
	peer, err := identity.PeerID(new(tc.ConnectionState()))
	if err != nil { // VerifyConnection guarantees one; belt and braces
		nc.Close()
		return
	}
	c := newConn(tc, false, s.cfg.Flow, s.cfg.MaxConcurrentStreams, s.log)
	c.metrics = s.cfg.Metrics
	c.onStream = func(st *Stream, f *headerBlock) { s.dispatch(c, peer, st, f) }
	c.onClose = func(c *conn) {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		tc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if err := c.start(); err != nil {
		return
	}
	<-c.done
}

func reasonOf(err error) identity.Reason {
	if r := identity.ReasonOf(err); r != "" {
		return r
	}
	return "handshake_failed"
}

// dispatch validates a new CONNECT and runs the handler for it.
func (s *Server) dispatch(c *conn, peer identity.ID, st *Stream, f *headerBlock) {
	req, status, err := parseConnect(f)
	if err != nil {
		// Refused per stream: the connection and its other streams go on.
		s.log.Info("hbone: CONNECT refused", "peer", peer.String(), "stream", st.id, "status", status, "reason", err.Error())
		go func() {
			defer c.handlerDone()
			_ = st.Reject(status)
			st.Close()
		}()
		return
	}
	req.PeerIdentity = peer
	req.TunnelLocal, req.TunnelRemote = c.nc.LocalAddr(), c.nc.RemoteAddr()
	if req.Forwarded.IsValid() && (s.cfg.TrustForwarded == nil || !s.cfg.TrustForwarded(peer)) {
		req.ForwardedDropped = req.Header.Get("Forwarded")
		req.Forwarded = netip.AddrPort{}
		req.Header.Del("Forwarded")
		s.cfg.Metrics.forwardedDropped()
		s.log.V(1).Info("hbone: Forwarded from a peer not trusted to set it; using the tunnel's source",
			"peer", peer.String(), "forwarded", req.ForwardedDropped, "remote", c.nc.RemoteAddr().String())
	}
	st.localAP = req.Target
	st.remoteNet = c.nc.RemoteAddr()
	st.remoteAP = req.Forwarded // the original source, when the client sent it
	ctx, cancel := context.WithCancel(s.ctx)
	c.mu.Lock()
	if st.removed {
		cancel()
	} else {
		st.cancel = cancel
	}
	c.mu.Unlock()
	go func() {
		defer c.handlerDone()
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error(fmt.Errorf("panic: %v", r), "hbone handler panicked", "target", req.Target.String())
				st.Reset()
			}
		}()
		s.handler.ServeHBONE(ctx, req, st)
		_ = st.Reject(http.StatusServiceUnavailable) // no-op if answered
		st.Close()
	}()
}

// parseConnect validates a CONNECT request header block; on error it also
// returns the HTTP status to answer with.
func parseConnect(f *headerBlock) (*ConnectRequest, int, error) {
	if f.truncated || f.size > maxHeaderListSize {
		return nil, http.StatusRequestHeaderFieldsTooLarge, fmt.Errorf("header list of %d bytes, over the limit of %d", f.size, maxHeaderListSize)
	}
	var method, authority string
	regular := len(f.fields)
	for i, hf := range f.fields {
		if !hf.IsPseudo() {
			regular = i
			break
		}
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":authority":
			authority = hf.Value
		case ":scheme", ":path", ":protocol":
			return nil, http.StatusBadRequest, fmt.Errorf("%s is not allowed in a plain CONNECT", hf.Name)
		default:
			return nil, http.StatusBadRequest, fmt.Errorf("unexpected pseudo-header %s", hf.Name)
		}
	}
	if method != http.MethodConnect {
		return nil, http.StatusMethodNotAllowed, fmt.Errorf("method %q, only CONNECT is served", method)
	}
	target, err := netip.ParseAddrPort(authority)
	if err != nil || target.Port() == 0 || !target.Addr().IsValid() || target.Addr().Zone() != "" {
		return nil, http.StatusBadRequest, fmt.Errorf(":authority %q is not a numeric ip:port", authority)
	}
	req := &ConnectRequest{Target: netip.AddrPortFrom(target.Addr().Unmap(), target.Port()), Header: http.Header{}}
	for _, hf := range f.fields[regular:] {
		req.Header.Add(hf.Name, hf.Value)
	}
	if fw := req.Header.Get("Forwarded"); fw != "" {
		src, err := ParseForwarded(fw)
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		req.Forwarded = src
	}
	return req, 0, nil
}

// Accept answers the CONNECT with 200: the tunnel is open.
func (s *Stream) Accept() error { return s.respond(http.StatusOK, false) }

// Reject answers the CONNECT with an error status (503 when the target
// refused, 403 when policy denies) and ends our side of the stream.
func (s *Stream) Reject(status int) error {
	if status < 300 {
		return fmt.Errorf("hbone: Reject needs an error status, got %d", status)
	}
	return s.respond(status, true)
}

func hfStatus(status int) hpack.HeaderField {
	return hpack.HeaderField{Name: ":status", Value: statusText(status)}
}

func statusText(status int) string {
	if status == 200 {
		return "200"
	}
	return fmt.Sprint(status)
}

// Drain sends GOAWAY on every connection without closing the listeners:
// streams in flight finish, clients open new streams on new connections.
func (s *Server) Drain() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway()
	}
}

// Shutdown stops accepting, sends GOAWAY, and waits until every stream has
// finished or ctx ends (then it closes what is left).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	s.Drain()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes listeners and connections immediately.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.close(ErrServerClosed)
	}
	return nil
}
