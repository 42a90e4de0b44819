package hbone

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// TestClientRejectsBadServer: the client checks the server's certificate
// chain and its URI SAN, and says why it refused.
func TestClientRejectsBadServer(t *testing.T) {
	ca := identitytest.NewCA("root")
	foreign := identitytest.NewCA("someone else's root")
	now := time.Now()
	tests := []struct {
		name   string
		cert   *tls.Certificate
		reason identity.Reason
	}{
		{"wrong identity", ca.IssueValid(otherID, time.Hour), identity.ReasonWrongIdentity},
		{"foreign CA", foreign.IssueValid(serverID, time.Hour), identity.ReasonUnknownAuthority},
		{"expired", ca.Issue(serverID, now.Add(-2*time.Hour), now.Add(-time.Hour)), identity.ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, ca, serverOpts{cert: tt.cert})
			m := NewMetrics(nil)
			client := newTestClient(t, ca, nil, func(c *ClientConfig) { c.Metrics = m })
			_, err := client.Dial(ctxT(t), dialReq(echoTarget(t), srv.addr))
			if err == nil {
				t.Fatal("Dial succeeded against a server that must be refused")
			}
			if got := identity.ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q, want %q (error: %v)", got, tt.reason, err)
			}
			if n := testutil.ToFloat64(m.handshakeFailures.WithLabelValues("client", string(tt.reason))); n != 1 {
				t.Errorf("client handshake failure metric for %q = %v, want 1", tt.reason, n)
			}
		})
	}
}

// TestServerRejectsBadClient: the server verifies the client and logs a
// distinct reason for each kind of refusal.
func TestServerRejectsBadClient(t *testing.T) {
	ca := identitytest.NewCA("root")
	foreign := identitytest.NewCA("someone else's root")
	now := time.Now()
	tests := []struct {
		name   string
		cert   *tls.Certificate
		reason identity.Reason
	}{
		{"identity not allowed", ca.IssueValid(clientID, time.Hour), identity.ReasonWrongIdentity},
		{"foreign CA", foreign.IssueValid(clientID, time.Hour), identity.ReasonUnknownAuthority},
		{"expired", ca.Issue(clientID, now.Add(-2*time.Hour), now.Add(-time.Minute)), identity.ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allowed := identity.AnyOf(otherID) // only relevant to the first case
			if tt.reason != identity.ReasonWrongIdentity {
				allowed = identity.InTrustDomain("cluster.local")
			}
			m := NewMetrics(nil)
			srv := startServer(t, ca, serverOpts{authorize: allowed, cfg: ServerConfig{Metrics: m}})
			client := newTestClient(t, ca, tt.cert, nil)
			_, err := client.Dial(ctxT(t), dialReq(echoTarget(t), srv.addr))
			if err == nil {
				t.Fatal("Dial succeeded with a client the server must refuse")
			}
			line := srv.logs.waitFor(t, "hbone handshake rejected")
			if !strings.Contains(line, `"reason"="`+string(tt.reason)+`"`) {
				t.Errorf("log line %q does not name reason %q", line, tt.reason)
			}
			if n := testutil.ToFloat64(m.handshakeFailures.WithLabelValues("server", string(tt.reason))); n != 1 {
				t.Errorf("server handshake failure metric for %q = %v, want 1", tt.reason, n)
			}
		})
	}
}

// TestTrustBundleRotation: during a root rotation the bundle holds old and
// new roots, and peers with certificates from either connect.
func TestTrustBundleRotation(t *testing.T) {
	oldCA := identitytest.NewCA("old root")
	newCA := identitytest.NewCA("new root")
	both := identity.NewBundle(oldCA.Root, newCA.Root)
	// Server already renewed from the new root; client still on the old one.
	srv := startServer(t, newCA, serverOpts{bundle: both})
	client := newTestClient(t, oldCA, nil, func(c *ClientConfig) { c.Bundle = both })
	s, err := client.Dial(ctxT(t), dialReq(echoTarget(t), srv.addr))
	if err != nil {
		t.Fatalf("mixed-root handshake during rotation failed: %v", err)
	}
	s.Close()

	// After the overlap the old root is dropped and old certificates fail.
	both.Set(newCA.Bundle().Roots())
	client2 := newTestClient(t, oldCA, nil, func(c *ClientConfig) { c.Bundle = both })
	if _, err := client2.Dial(ctxT(t), dialReq(echoTarget(t), srv.addr)); err == nil {
		t.Fatal("certificate from a removed root was still accepted")
	}
}
