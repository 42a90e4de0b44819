package hbone

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// TestCloseUnblocksWriterOnStuckPeer: a peer that grants huge flow-control
// windows and then stops reading the socket leaves our writer blocked in
// the kernel. Closing the client must still return promptly and fail the
// write, not deadlock behind it.
func TestCloseUnblocksWriterOnStuckPeer(t *testing.T) {
	ca := identitytest.NewCA("root")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := identity.ServerTLS{Certs: provide(serverID, ca.IssueValid(serverID, time.Hour)), Bundle: ca.Bundle(),
		LocalID: serverID, Authorize: identity.InTrustDomain("cluster.local")}.Config()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		tc := tls.Server(nc, cfg)
		if tc.Handshake() != nil {
			return
		}
		io.ReadFull(tc, make([]byte, len(clientPreface)))
		fr := http2.NewFramer(tc, tc)
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
		fr.WriteWindowUpdate(0, 1<<31-1-65535)
		for { // answer the CONNECT, then stop reading for good
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if h, ok := f.(*http2.MetaHeadersFrame); ok {
				var b bytes.Buffer
				hpack.NewEncoder(&b).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: h.StreamID, BlockFragment: b.Bytes(), EndHeaders: true})
				break
			}
		}
		<-stop
	}()

	client := newTestClient(t, ca, nil, nil)
	s, err := client.Dial(ctxT(t), dialReq(echoTarget(t), l.Addr().(*net.TCPAddr).AddrPort()))
	if err != nil {
		t.Fatal(err)
	}
	writeErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if _, err := s.Write(buf); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // socket buffers fill up; the writer blocks
	closed := make(chan struct{})
	go func() {
		client.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Client.Close blocked behind a write to a peer that stopped reading")
	}
	select {
	case err := <-writeErr:
		if err == nil {
			t.Fatal("write succeeded after close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked write did not fail after Close")
	}
}

// TestRapidResetBounded: a client that opens streams and resets them at
// once (CVE-2023-44487) cannot run more handlers than the stream limit.
func TestRapidResetBounded(t *testing.T) {
	ca := identitytest.NewCA("root")
	const limit = 10
	var running, peak atomic.Int64
	release := make(chan struct{})
	srv := startServer(t, ca, serverOpts{
		cfg: ServerConfig{MaxConcurrentStreams: limit},
		handler: HandlerFunc(func(_ context.Context, _ *ConnectRequest, _ *Stream) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release // a slow handler (think: dialing an unreachable target)
			running.Add(-1)
		}),
	})
	defer close(release)

	cfg := identity.ClientTLS{Certs: provide(clientID, ca.IssueValid(clientID, time.Hour)), Bundle: ca.Bundle(),
		Local: clientID, Expect: identity.Exactly(serverID)}.Config()
	tc, err := tls.Dial("tcp", srv.addr.String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	go io.Copy(io.Discard, tc) // read (and ignore) whatever the server says
	tc.Write([]byte(clientPreface))
	fr := http2.NewFramer(tc, nil)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := range 500 {
		hb.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":method", Value: "CONNECT"})
		enc.WriteField(hpack.HeaderField{Name: ":authority", Value: "10.0.0.1:80"})
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if p := peak.Load(); p > limit || p == 0 {
		t.Fatalf("%d handlers ran at once under open-and-reset, limit %d", p, limit)
	}
}
