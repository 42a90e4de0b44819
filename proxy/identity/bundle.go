package identity

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync/atomic"
)

// Bundle is the set of trusted root certificates. It is swapped atomically
// so a root rotation (old and new root trusted during the overlap) reaches
// every new handshake without restarting anything.
type Bundle struct {
	state atomic.Pointer[bundleState]
}

type bundleState struct {
	pool  *x509.CertPool
	roots []*x509.Certificate
}

// NewBundle returns a bundle trusting roots.
func NewBundle(roots ...*x509.Certificate) *Bundle {
	b := &Bundle{}
	b.Set(roots)
	return b
}

// Set replaces the trusted roots.
func (b *Bundle) Set(roots []*x509.Certificate) {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	b.state.Store(&bundleState{pool: pool, roots: append([]*x509.Certificate(nil), roots...)})
}

// Pool returns the current roots as a pool (never nil).
func (b *Bundle) Pool() *x509.CertPool {
	if s := b.state.Load(); s != nil {
		return s.pool
	}
	return x509.NewCertPool()
}

// Roots returns a copy of the current roots.
func (b *Bundle) Roots() []*x509.Certificate {
	if s := b.state.Load(); s != nil {
		return append([]*x509.Certificate(nil), s.roots...)
	}
	return nil
}

// PEM encodes the current roots.
func (b *Bundle) PEM() []byte {
	var out []byte
	for _, r := range b.Roots() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	return out
}

// ParseCertificatesPEM parses every CERTIFICATE block in data. It fails on
// anything else, so a truncated or mixed-up file is noticed.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q, want CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE found")
	}
	return certs, nil
}
