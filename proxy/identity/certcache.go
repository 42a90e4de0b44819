package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/proxy/internal/ctxtime"
)

// Signed is what an Issuer returns for a CSR.
type Signed struct {
	ChainPEM []byte              // leaf first
	Roots    []*x509.Certificate // the CA's current trust bundle
}

// Issuer signs a PEM CSR (the mesh CA, or a test double).
type Issuer interface {
	Sign(ctx context.Context, csrPEM []byte) (*Signed, error)
}

// CacheOptions tunes CertCache. Zero values pick the defaults.
type CacheOptions struct {
	MinBackoff time.Duration // first retry delay after a failed renewal (default 1s)
	MaxBackoff time.Duration // retry delay cap (default 1m)
	Log        logr.Logger
}

// CertCache fetches certificates from an Issuer on first use, keeps them,
// renews each at half its lifetime in the background (retrying with
// jittered exponential backoff), updates the trust bundle from every
// response, and never hands out an expired certificate.
type CertCache struct {
	issuer Issuer
	bundle *Bundle
	opts   CacheOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	entries map[ID]*certEntry
}

type certEntry struct {
	mu       sync.Mutex
	cert     *tls.Certificate
	fetched  time.Time     // when cert arrived; half-life counts from here, not the backdated NotBefore
	inflight chan struct{} // closed when the running fetch finishes
	lastErr  error
	stop     context.CancelFunc
}

// NewCertCache returns a cache whose background renewals stop when ctx is
// done or Close is called. bundle may be nil if roots come from elsewhere.
func NewCertCache(ctx context.Context, issuer Issuer, bundle *Bundle, opts CacheOptions) *CertCache {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Minute, opts.MinBackoff)
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	ctx, cancel := context.WithCancel(ctx)
	return &CertCache{issuer: issuer, bundle: bundle, opts: opts, ctx: ctx, cancel: cancel, entries: map[ID]*certEntry{}}
}

// Close stops all background renewals.
func (c *CertCache) Close() {
	c.cancel()
	c.wg.Wait()
}

// Forget drops id (for example when its last pod left the node).
func (c *CertCache) Forget(id ID) {
	c.mu.Lock()
	e := c.entries[id]
	delete(c.entries, id)
	c.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		if e.stop != nil {
			e.stop()
		}
		e.mu.Unlock()
	}
}

// GetCertificate implements CertProvider.
func (c *CertCache) GetCertificate(ctx context.Context, id ID) (*tls.Certificate, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.entries[id]
	if !ok {
		e = &certEntry{}
		c.entries[id] = e
	}
	c.mu.Unlock()
	e.mu.Lock()
	if cert := e.cert; cert != nil && time.Now().Before(cert.Leaf.NotAfter) {
		e.mu.Unlock()
		return cert, nil
	}
	wait := e.inflight
	if wait == nil {
		wait = c.startFetch(id, e)
	}
	e.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, errors.New("certificate cache closed")
	}
	e.mu.Lock()
	cert, err := e.cert, e.lastErr
	e.mu.Unlock()
	if cert == nil || !time.Now().Before(cert.Leaf.NotAfter) {
		if err == nil {
			err = errors.New("issuer returned an expired certificate")
		}
		return nil, fmt.Errorf("certificate for %s: %w", id, err)
	}
	return cert, nil
}

// startFetch runs one fetch in the background; e.mu must be held.
func (c *CertCache) startFetch(id ID, e *certEntry) chan struct{} {
	done := make(chan struct{})
	e.inflight = done
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cert, err := c.fetch(c.ctx, id)
		e.mu.Lock()
		e.inflight = nil
		e.lastErr = err
		first := e.cert == nil
		if err == nil {
			e.cert, e.fetched = cert, time.Now()
		}
		if err == nil && first && e.stop == nil {
			rctx, stop := context.WithCancel(c.ctx)
			e.stop = stop
			c.wg.Add(1)
			go c.renewLoop(rctx, id, e)
		}
		e.mu.Unlock()
		close(done)
	}()
	return done
}

func (c *CertCache) fetch(ctx context.Context, id ID) (*tls.Certificate, error) {
	key, csr, err := NewKeyAndCSR(id)
	if err != nil {
		return nil, err
	}
	signed, err := c.issuer.Sign(ctx, csr)
	if err != nil {
		return nil, err
	}
	cert, err := TLSCertificate(key, signed.ChainPEM)
	if err != nil {
		return nil, fmt.Errorf("issuer response: %w", err)
	}
	got, err := FromCertificate(cert.Leaf)
	if err != nil || got != id {
		return nil, fmt.Errorf("issuer returned a certificate for %v, want %s (%v)", got, id, err)
	}
	if !time.Now().Before(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("issuer returned a certificate that expired at %s", cert.Leaf.NotAfter)
	}
	if c.bundle != nil && len(signed.Roots) > 0 {
		c.bundle.Set(signed.Roots)
	}
	return cert, nil
}

// renewLoop renews at half-life; on failure it retries with backoff and
// keeps going after expiry so the identity recovers when the CA does.
func (c *CertCache) renewLoop(ctx context.Context, id ID, e *certEntry) {
	defer c.wg.Done()
	backoff := c.opts.MinBackoff
	for {
		e.mu.Lock()
		cur, fetched := e.cert, e.fetched
		e.mu.Unlock()
		life := cur.Leaf.NotAfter.Sub(fetched)
		wait := time.Until(fetched.Add(life / 2))
		if !ctxtime.Sleep(ctx, wait) {
			return
		}
		for {
			cert, err := c.fetch(ctx, id)
			if err == nil {
				e.mu.Lock()
				e.cert, e.fetched, e.lastErr = cert, time.Now(), nil
				e.mu.Unlock()
				c.opts.Log.V(1).Info("renewed certificate", "identity", id.String(), "notAfter", cert.Leaf.NotAfter)
				backoff = c.opts.MinBackoff
				break
			}
			if ctx.Err() != nil {
				return
			}
			e.mu.Lock()
			e.lastErr = err
			e.mu.Unlock()
			c.opts.Log.Error(err, "certificate renewal failed; retrying", "identity", id.String(), "in", backoff, "notAfter", cur.Leaf.NotAfter)
			// Full jitter between backoff/2 and backoff spreads a node's
			// renewals so a recovering CA is not stampeded.
			if !ctxtime.Sleep(ctx, backoff/2+rand.N(backoff/2+1)) {
				return
			}
			backoff = min(backoff*2, c.opts.MaxBackoff)
		}
	}
}

// StaticCerts is a CertProvider over fixed certificates (tests, or a
// certificate supplied from files). It still refuses expired ones.
type StaticCerts map[ID]*tls.Certificate

// GetCertificate implements CertProvider.
func (s StaticCerts) GetCertificate(_ context.Context, id ID) (*tls.Certificate, error) {
	c, ok := s[id]
	if !ok {
		return nil, fmt.Errorf("no certificate for %s", id)
	}
	if c.Leaf != nil && !time.Now().Before(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("certificate for %s expired at %s", id, c.Leaf.NotAfter)
	}
	return c, nil
}
