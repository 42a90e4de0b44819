package waypoint

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// staticCerts serves a certificate from files instead of the mesh CA
// (benchmarks, running without a cluster). It must carry this pod's
// identity: a mismatch would only fail later, at every peer.
func staticCerts(self identity.ID, certFile, keyFile string) (identity.CertProvider, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--cert-file: %w", err)
	}
	if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return nil, fmt.Errorf("--cert-file: %w", err)
	}
	got, err := identity.FromCertificate(cert.Leaf)
	if err != nil {
		return nil, fmt.Errorf("--cert-file: %w", err)
	}
	if got != self {
		return nil, fmt.Errorf("--cert-file is for %s, this waypoint is %s", got, self)
	}
	return identity.StaticCerts{self: &cert}, nil
}
