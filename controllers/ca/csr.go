package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// maxCSRBytes bounds what we parse from a caller.
const maxCSRBytes = 16 << 10

// ParseWorkloadCSR parses a PEM CSR and checks it asks for exactly one
// SPIFFE identity of trustDomain and nothing else, with a key we accept.
// It returns the parsed CSR and the requested identity.
func ParseWorkloadCSR(pemData []byte, trustDomain string) (*x509.CertificateRequest, identity.ID, error) {
	if len(pemData) == 0 {
		return nil, identity.ID{}, errors.New("csr is empty")
	}
	if len(pemData) > maxCSRBytes {
		return nil, identity.ID{}, fmt.Errorf("csr is %d bytes, limit %d", len(pemData), maxCSRBytes)
	}
	csr, err := identity.ParseCSRPEM(pemData)
	if err != nil {
		return nil, identity.ID{}, err
	}
	if len(csr.DNSNames)+len(csr.EmailAddresses)+len(csr.IPAddresses) > 0 {
		return nil, identity.ID{}, errors.New("csr may only carry a spiffe:// URI SAN (found DNS, e-mail or IP SANs)")
	}
	if len(csr.URIs) != 1 {
		return nil, identity.ID{}, fmt.Errorf("csr has %d URI SANs, want exactly one spiffe:// URI", len(csr.URIs))
	}
	id, err := identity.FromCSR(csr)
	if err != nil {
		return nil, identity.ID{}, fmt.Errorf("csr identity: %w", err)
	}
	if id.TrustDomain != trustDomain {
		return nil, identity.ID{}, fmt.Errorf("csr asks for trust domain %q, this CA serves %q", id.TrustDomain, trustDomain)
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return nil, identity.ID{}, err
	}
	return csr, id, nil
}

func checkKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s not accepted (use P-256 or P-384)", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits not accepted (minimum 2048)", k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("public key type %T not accepted", pub)
	}
	return nil
}
