package hbone

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

var (
	clientID = identity.MustParse("spiffe://cluster.local/ns/apps/sa/client")
	serverID = identity.MustParse("spiffe://cluster.local/ns/wayfabric-system/sa/ztunnel")
	otherID  = identity.MustParse("spiffe://cluster.local/ns/apps/sa/intruder")
)

// logSink collects log lines so tests can assert on logged reasons.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		l.lines = append(l.lines, prefix+" "+args)
		l.mu.Unlock()
	}, funcr.Options{Verbosity: 1})
}

func (l *logSink) waitFor(t *testing.T, substr string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, line := range l.lines {
			if strings.Contains(line, substr) {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no log line containing %q; got:\n%s", substr, strings.Join(l.lines, "\n"))
	return ""
}

type testServer struct {
	srv  *Server
	addr netip.AddrPort
	logs *logSink
}

type serverOpts struct {
	cert      *tls.Certificate
	bundle    *identity.Bundle
	authorize identity.Matcher
	handler   Handler
	cfg       ServerConfig
}

// startServer runs an HBONE server on loopback with a real mTLS config.
func startServer(t testing.TB, ca *identitytest.CA, o serverOpts) *testServer {
	t.Helper()
	if o.cert == nil {
		o.cert = ca.IssueValid(serverID, time.Hour)
	}
	if o.bundle == nil {
		o.bundle = ca.Bundle()
	}
	if o.authorize == nil {
		o.authorize = identity.InTrustDomain("cluster.local")
	}
	if o.handler == nil {
		o.handler = DialTarget{}
	}
	logs := &logSink{}
	cfg := o.cfg
	cfg.TLS = identity.ServerTLS{
		Certs:     provide(serverID, o.cert),
		Bundle:    o.bundle,
		LocalID:   serverID,
		Authorize: o.authorize,
	}.Config()
	cfg.Log = logs.logger()
	srv, err := NewServer(cfg, o.handler)
	if err != nil {
		t.Fatal(err)
	}
	l := loopback.Listen(t)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &testServer{srv: srv, addr: l.Addr().(*net.TCPAddr).AddrPort(), logs: logs}
}

// provide returns a CertProvider serving cert for id even if it expired,
// so tests can make a peer present an expired certificate.
func provide(id identity.ID, cert *tls.Certificate) identity.CertProvider {
	return identity.ProviderFunc(func(_ context.Context, got identity.ID) (*tls.Certificate, error) {
		if got != id {
			return nil, io.ErrUnexpectedEOF
		}
		return cert, nil
	})
}

func newTestClient(t testing.TB, ca *identitytest.CA, cert *tls.Certificate, mod func(*ClientConfig)) *Client {
	t.Helper()
	if cert == nil {
		cert = ca.IssueValid(clientID, time.Hour)
	}
	cfg := ClientConfig{Certs: provide(clientID, cert), Bundle: ca.Bundle()}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tcpTarget runs fn for every accepted connection on a loopback listener.
func tcpTarget(t testing.TB, fn func(*net.TCPConn)) netip.AddrPort {
	return loopback.Serve(t, fn)
}

// echoTarget echoes until EOF, then half-closes.
func echoTarget(t testing.TB) netip.AddrPort {
	return tcpTarget(t, func(c *net.TCPConn) {
		io.Copy(c, c)
		c.CloseWrite()
	})
}

func dialReq(target, proxy netip.AddrPort) DialRequest {
	return DialRequest{
		Target: target, Proxy: proxy,
		SourceIdentity: clientID, PeerIdentity: serverID,
		Forwarded: netip.MustParseAddrPort("10.1.2.3:45678"),
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
