package waypoint

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// flakyCerts fails its first `failures` calls, then hands out a certificate.
// It stands in for the CA client, a boundary these tests do not reach.
type flakyCerts struct {
	failures int32
	calls    atomic.Int32
}

func (f *flakyCerts) GetCertificate(context.Context, identity.ID) (*tls.Certificate, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, errors.New("ca unreachable")
	}
	return &tls.Certificate{}, nil
}

func TestCertGate(t *testing.T) {
	self, err := identity.New("cluster.local", "app", "waypoint")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		failures  int32
		wantReady bool
	}{
		{"ready as soon as the first certificate arrives", 0, true},
		{"ready after the CA recovers", 2, true},
		{"unready while the CA keeps failing, naming the cause", 1 << 30, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			certs := &flakyCerts{failures: tc.failures}
			g := startCertGate(ctx, certs, self, logr.Discard())
			deadline := time.Now().Add(3 * time.Second)
			for g.Check() != nil && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			err := g.Check()
			if tc.wantReady && err != nil {
				t.Fatalf("still unready after %d attempts: %v", certs.calls.Load(), err)
			}
			if !tc.wantReady {
				if err == nil {
					t.Fatal("ready without a certificate")
				}
				if !strings.Contains(err.Error(), "ca unreachable") || !strings.Contains(err.Error(), self.String()) {
					t.Fatalf("error %q should name the identity and the cause", err)
				}
			}
		})
	}
}
