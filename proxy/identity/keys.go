package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
)

// NewKeyAndCSR generates an ECDSA P-256 key (cheap handshakes) and a CSR
// asking for id as its only SAN. It returns the key and the PEM CSR.
func NewKeyAndCSR(id ID) (crypto.Signer, []byte, error) {
	if err := id.Validate(); err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{Organization: []string{id.TrustDomain}},
		URIs:    []*url.URL{id.URL()},
	}, key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// TLSCertificate assembles a tls.Certificate from a key and a PEM chain
// (leaf first) and checks the key matches the leaf.
func TLSCertificate(key crypto.Signer, chainPEM []byte) (*tls.Certificate, error) {
	chain, err := ParseCertificatesPEM(chainPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(chain[0].PublicKey, key.Public()) {
		return nil, errors.New("certificate does not match the private key")
	}
	out := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

// ParseCSRPEM parses a single PEM CERTIFICATE REQUEST and checks its
// self-signature.
func ParseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in CSR")
	}
	if block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("PEM block %q, want CERTIFICATE REQUEST", block.Type)
	}
	if len(pemTrim(rest)) != 0 {
		return nil, errors.New("trailing data after CSR")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	return csr, nil
}

func pemTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
