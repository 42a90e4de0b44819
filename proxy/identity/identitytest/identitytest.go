// Package identitytest provides an in-memory mesh CA for tests: real keys,
// real X.509 certificates with SPIFFE URI SANs, any validity window.
package identitytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// CA is a self-signed root that issues workload certificates.
type CA struct {
	Root *x509.Certificate
	key  *ecdsa.PrivateKey

	// TTL of certificates issued through Sign (default 1h).
	TTL time.Duration
	// Fail makes Sign fail while set (to test retries).
	Fail atomic.Bool
	// Signed counts successful Sign calls.
	Signed atomic.Int64

	mu sync.Mutex
}

// NewCA creates a root CA named name.
func NewCA(name string) *CA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	root, _ := x509.ParseCertificate(der)
	return &CA{Root: root, key: key, TTL: time.Hour}
}

// Bundle returns a trust bundle holding only this root.
func (ca *CA) Bundle() *identity.Bundle { return identity.NewBundle(ca.Root) }

// Issue returns a certificate for id valid in [notBefore, notAfter).
func (ca *CA) Issue(id identity.ID, notBefore, notAfter time.Time) *tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der := ca.sign(id, &key.PublicKey, notBefore, notAfter)
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// IssueValid returns a certificate for id valid from an hour ago for ttl.
func (ca *CA) IssueValid(id identity.ID, ttl time.Duration) *tls.Certificate {
	return ca.Issue(id, time.Now().Add(-time.Minute), time.Now().Add(ttl))
}

func (ca *CA) sign(id identity.ID, pub any, notBefore, notAfter time.Time) []byte {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		URIs:         append(ca.Root.URIs[:0:0], id.URL()),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Root, pub, ca.key)
	if err != nil {
		panic(err)
	}
	return der
}

// Sign implements identity.Issuer, issuing TTL-long certificates.
func (ca *CA) Sign(_ context.Context, csrPEM []byte) (*identity.Signed, error) {
	if ca.Fail.Load() {
		return nil, errFail
	}
	csr, err := identity.ParseCSRPEM(csrPEM)
	if err != nil {
		return nil, err
	}
	id, err := identity.FromCSR(csr)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	der := ca.sign(id, csr.PublicKey, now, now.Add(ca.TTL))
	ca.Signed.Add(1)
	return &identity.Signed{
		ChainPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Roots:    []*x509.Certificate{ca.Root},
	}, nil
}

type failErr struct{}

func (failErr) Error() string { return "identitytest: CA is failing on purpose" }

var errFail = failErr{}
