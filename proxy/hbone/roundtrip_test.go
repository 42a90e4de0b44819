package hbone

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestRoundTripHalfClose sends bytes both ways through client → HBONE
// server → TCP target, with each side half-closing first in turn.
func TestRoundTripHalfClose(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, nil)

	up := randBytes(3<<20 + 17)   // client → target
	down := randBytes(5<<20 + 33) // target → client

	tests := []struct {
		name string
		// target behaviour, given the TCP conn; returns what it read.
		target func(c *net.TCPConn) []byte
		// client behaviour on the tunnel; returns what it read.
		client func(s *Stream) ([]byte, error)
	}{
		{
			name: "client half-closes first",
			target: func(c *net.TCPConn) []byte {
				got, _ := io.ReadAll(c) // EOF only if END_STREAM became FIN
				c.Write(down)
				c.CloseWrite()
				return got
			},
			client: func(s *Stream) ([]byte, error) {
				if _, err := s.Write(up); err != nil {
					return nil, err
				}
				if err := s.CloseWrite(); err != nil {
					return nil, err
				}
				return io.ReadAll(s)
			},
		},
		{
			name: "target half-closes first",
			target: func(c *net.TCPConn) []byte {
				c.Write(down)
				c.CloseWrite() // FIN must reach the client as EOF
				got, _ := io.ReadAll(c)
				return got
			},
			client: func(s *Stream) ([]byte, error) {
				got, err := io.ReadAll(s)
				if err != nil {
					return nil, err
				}
				// Our side is still open after the peer's EOF.
				if _, err := s.Write(up); err != nil {
					return nil, err
				}
				return got, s.CloseWrite()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targetGot := make(chan []byte, 1)
			target := tcpTarget(t, func(c *net.TCPConn) { targetGot <- tt.target(c) })
			s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			clientGot, err := tt.client(s)
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			var tgot []byte
			select {
			case tgot = <-targetGot:
			case <-time.After(15 * time.Second):
				t.Fatal("target never saw EOF: half-close was not propagated")
			}
			if !bytes.Equal(tgot, up) {
				t.Errorf("target got %d bytes (sha %x), want %d (sha %x)", len(tgot), sha256.Sum256(tgot), len(up), sha256.Sum256(up))
			}
			if !bytes.Equal(clientGot, down) {
				t.Errorf("client got %d bytes, want %d", len(clientGot), len(down))
			}
		})
	}
}

// TestForwardedAndIdentityReachHandler checks the handler sees the target,
// the verified client identity and the original source from a peer trusted
// to set it.
func TestForwardedAndIdentityReachHandler(t *testing.T) {
	ca := identitytest.NewCA("root")
	got := make(chan *ConnectRequest, 1)
	trust := func(id identity.ID) bool { return id == clientID }
	srv := startServer(t, ca, serverOpts{cfg: ServerConfig{TrustForwarded: trust}, handler: HandlerFunc(func(_ context.Context, r *ConnectRequest, s *Stream) {
		got <- r
		s.Accept()
		if s.RemoteAddr().String() != "10.1.2.3:45678" {
			s.Write([]byte("bad remote " + s.RemoteAddr().String()))
		} else {
			s.Write([]byte("ok"))
		}
	})})
	client := newTestClient(t, ca, nil, nil)
	target := netip.MustParseAddrPort("10.9.8.7:8080")
	s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := <-got
	if r.Target != target || r.PeerIdentity != clientID || r.Forwarded.String() != "10.1.2.3:45678" {
		t.Errorf("handler got target=%v peer=%v forwarded=%v", r.Target, r.PeerIdentity, r.Forwarded)
	}
	b, _ := io.ReadAll(s)
	if string(b) != "ok" {
		t.Errorf("stream RemoteAddr: %s", b)
	}
}

// TestTargetRefusedIsAnError: an unreachable target yields CONNECT 503 and
// Dial fails promptly instead of returning a stream that hangs.
func TestTargetRefusedIsAnError(t *testing.T) {
	ca := identitytest.NewCA("root")
	m := NewMetrics(nil)
	srv := startServer(t, ca, serverOpts{cfg: ServerConfig{Metrics: m}})
	client := newTestClient(t, ca, nil, func(c *ClientConfig) { c.Metrics = m })
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close() // nothing listens here now

	start := time.Now()
	_, err := client.Dial(ctxT(t), dialReq(closed, srv.addr))
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Status != 503 {
		t.Fatalf("Dial error = %v, want ConnectError 503", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refusal took %v", d)
	}
	for _, sd := range []string{"client", "server"} {
		if n := testutil.ToFloat64(m.streams.WithLabelValues(sd, "503")); n != 1 {
			t.Errorf("%s streams_total{result=503} = %v, want 1", sd, n)
		}
	}
}

// TestManyStreamsOneConnection runs hundreds of concurrent streams and
// checks they share one connection.
func TestManyStreamsOneConnection(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, func(c *ClientConfig) { c.MaxStreamsPerConn = 1000 })
	target := echoTarget(t)

	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	opened := make(chan struct{}, n)
	release := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			opened <- struct{}{}
			<-release // keep all streams open at once
			msg := randBytes(1000 + i)
			go func() { s.Write(msg); s.CloseWrite() }()
			got, err := io.ReadAll(s)
			if err != nil || !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("stream %d: %d bytes back, err %v", i, len(got), err)
			}
		}()
	}
	for range n {
		select {
		case <-opened:
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(15 * time.Second):
			t.Fatal("streams did not open")
		}
	}
	if st := client.Stats(); st.Conns != 1 || st.Streams != n {
		t.Errorf("stats with %d open streams = %+v, want 1 conn", n, st)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStreamLimitOpensNewConnection: past MaxStreamsPerConn the pool
// dials another connection.
func TestStreamLimitOpensNewConnection(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, func(c *ClientConfig) { c.MaxStreamsPerConn = 10 })
	target := echoTarget(t)
	var streams []*Stream
	for range 25 {
		s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	if st := client.Stats(); st.Conns != 3 {
		t.Errorf("25 streams at 10 per connection used %d connections, want 3", st.Conns)
	}
	for _, s := range streams {
		s.Close()
	}
}

// TestIdleConnectionsClosed: a connection without streams is closed after
// IdleTimeout.
func TestIdleConnectionsClosed(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, func(c *ClientConfig) { c.IdleTimeout = 100 * time.Millisecond })
	s, err := client.Dial(ctxT(t), dialReq(echoTarget(t), srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if st := client.Stats(); st.Conns != 1 {
		t.Fatalf("connection with an open stream was closed: %+v", st)
	}
	s.Close()
	deadline := time.Now().Add(3 * time.Second)
	for client.Stats().Conns != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle connection still pooled: %+v", client.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBackpressure: a handler that does not read makes the writer block
// once the stream window is used; nothing buffers beyond it.
func TestBackpressure(t *testing.T) {
	ca := identitytest.NewCA("root")
	const window = 256 << 10
	startRead := make(chan struct{})
	readDone := make(chan int, 1)
	srv := startServer(t, ca, serverOpts{
		cfg: ServerConfig{Flow: FlowOptions{StreamWindow: window}},
		handler: HandlerFunc(func(_ context.Context, _ *ConnectRequest, s *Stream) {
			s.Accept()
			<-startRead
			n, _ := io.Copy(io.Discard, s)
			readDone <- int(n)
		}),
	})
	client := newTestClient(t, ca, nil, nil)
	s, err := client.Dial(ctxT(t), dialReq(netip.MustParseAddrPort("10.0.0.1:80"), srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	const total = 8 << 20
	writeDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 16<<10)
		for written.Load() < total {
			n, err := s.Write(buf)
			written.Add(int64(n))
			if err != nil {
				writeDone <- err
				return
			}
		}
		writeDone <- s.CloseWrite()
	}()
	for deadline := time.Now().Add(5 * time.Second); written.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // give an unbounded writer time to overshoot
	if w := written.Load(); w > window || w == 0 {
		t.Fatalf("writer got %d bytes out to a non-reading peer; want 0 < n <= window %d", w, window)
	}
	srv.srv.mu.Lock()
	var buffered int
	for c := range srv.srv.conns {
		c.mu.Lock()
		for _, st := range c.streams {
			buffered += st.rbuf.Len()
		}
		c.mu.Unlock()
	}
	srv.srv.mu.Unlock()
	if buffered > window {
		t.Errorf("server buffered %d bytes, window is %d", buffered, window)
	}
	close(startRead)
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	if n := <-readDone; n != total {
		t.Errorf("reader got %d bytes, want %d", n, total)
	}
}

// TestDeadlines: a read deadline on a silent stream times out.
func TestDeadlines(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{handler: HandlerFunc(func(ctx context.Context, _ *ConnectRequest, s *Stream) {
		s.Accept()
		<-ctx.Done()
	})})
	client := newTestClient(t, ca, nil, nil)
	s, err := client.Dial(ctxT(t), dialReq(netip.MustParseAddrPort("10.0.0.1:80"), srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = s.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read error = %v, want a timeout", err)
	}
}

// TestResetPropagates: a target that resets makes the client's read fail
// instead of seeing a clean EOF.
func TestResetPropagates(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, nil)
	target := tcpTarget(t, func(c *net.TCPConn) {
		io.ReadFull(c, make([]byte, 2)) // reset only once the tunnel is up
		c.Write([]byte("partial"))
		c.SetLinger(0) // close with RST
	})
	s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("go"))
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(s)
	var re *StreamResetError
	if !errors.As(err, &re) {
		t.Fatalf("read after target reset: %v, want a stream reset", err)
	}
}

// TestReceiveBufferStaysBounded: a reader that never fully drains its
// buffer must not make it grow past the window (the consumed prefix is
// dropped), and a drained burst is given back.
func TestReceiveBufferStaysBounded(t *testing.T) {
	ca := identitytest.NewCA("root")
	const window = 256 << 10
	const total = 8 << 20
	maxCap := make(chan int, 1)
	srv := startServer(t, ca, serverOpts{
		cfg: ServerConfig{Flow: FlowOptions{StreamWindow: window}},
		handler: HandlerFunc(func(_ context.Context, _ *ConnectRequest, s *Stream) {
			s.Accept()
			buf := make([]byte, 3000) // small reads: the buffer is rarely empty
			seen, got := 0, 0
			for got < total {
				n, err := s.Read(buf)
				got += n
				if err != nil {
					break
				}
				s.c.mu.Lock()
				seen = max(seen, len(s.rbuf.chunks)*recvChunk)
				s.c.mu.Unlock()
				if got%(64<<10) < len(buf) {
					time.Sleep(time.Millisecond) // slower than the writer
				}
			}
			maxCap <- seen
		}),
	})
	client := newTestClient(t, ca, nil, nil)
	s, err := client.Dial(ctxT(t), dialReq(netip.MustParseAddrPort("10.0.0.1:80"), srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go s.Write(make([]byte, total))
	select {
	case c := <-maxCap:
		if c > 2*window {
			t.Errorf("receive buffer grew to %d bytes with a %d-byte window", c, window)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("transfer did not finish")
	}
}
