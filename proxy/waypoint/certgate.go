package waypoint

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// certGate keeps the waypoint unready until it holds its workload
// certificate: without one every HBONE handshake fails, so traffic routed
// to it could only be refused. Once obtained, the certificate cache renews it
// at half life and never presents an expired one.
type certGate struct {
	ready   atomic.Bool
	lastErr atomic.Pointer[string]
}

// Backoff between attempts to obtain the first certificate.
const (
	certGateFirstRetry = 250 * time.Millisecond
	certGateMaxRetry   = 10 * time.Second
	certGateTimeout    = 10 * time.Second
)

func startCertGate(ctx context.Context, certs identity.CertProvider, self identity.ID, log logr.Logger) *certGate {
	g := &certGate{}
	waiting := fmt.Sprintf("no workload certificate for %s yet", self)
	g.lastErr.Store(&waiting)
	go func() {
		retry := certGateFirstRetry
		for ctx.Err() == nil {
			fetchCtx, cancel := context.WithTimeout(ctx, certGateTimeout)
			_, err := certs.GetCertificate(fetchCtx, self)
			cancel()
			if err == nil {
				g.ready.Store(true)
				log.Info("workload certificate obtained, ready for traffic", "identity", self.String())
				return
			}
			msg := fmt.Sprintf("no workload certificate for %s yet: %v", self, err)
			g.lastErr.Store(&msg)
			log.Info("waiting for the workload certificate", "identity", self.String(), "error", err.Error(), "retryIn", retry)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, certGateMaxRetry)
		}
	}()
	return g
}

// Check is a readiness check: nil once the certificate is held.
func (g *certGate) Check() error {
	if g.ready.Load() {
		return nil
	}
	return errors.New(*g.lastErr.Load())
}
