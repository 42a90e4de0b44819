package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// CertProvider hands out a currently valid certificate for an identity. It
// must never return an expired certificate: an error is better than a
// handshake the peer will refuse.
type CertProvider interface {
	GetCertificate(ctx context.Context, id ID) (*tls.Certificate, error)
}

// ALPNH2 is the only application protocol HBONE speaks.
const ALPNH2 = "h2"

// ServerTLS builds a mutual TLS 1.3 server config. local picks the identity
// to present for a connection (nil means the same for all: use LocalID);
// authorize decides which verified client identities may connect.
type ServerTLS struct {
	Certs     CertProvider
	Bundle    *Bundle
	LocalID   ID
	Local     func(*tls.ClientHelloInfo) (ID, error)
	Authorize Matcher
}

// Config returns the *tls.Config.
func (s ServerTLS) Config() *tls.Config {
	v := Verifier{Bundle: s.Bundle}
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		NextProtos:             []string{ALPNH2},
		ClientAuth:             tls.RequireAnyClientCert, // verified below, against the live bundle
		SessionTicketsDisabled: true,                     // every connection proves its current identity
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			id := s.LocalID
			if s.Local != nil {
				var err error
				if id, err = s.Local(hello); err != nil {
					return nil, err
				}
			}
			return s.Certs.GetCertificate(hello.Context(), id)
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.NegotiatedProtocol != ALPNH2 {
				return errors.New("client did not negotiate ALPN h2")
			}
			_, err := v.VerifyPeer(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, s.Authorize)
			return err
		},
	}
}

// ClientTLS builds a mutual TLS 1.3 client config presenting Local and
// accepting only a server whose identity satisfies Expect.
type ClientTLS struct {
	Certs  CertProvider
	Bundle *Bundle
	Local  ID
	Expect Matcher
}

// Config returns the *tls.Config.
func (c ClientTLS) Config() *tls.Config {
	v := Verifier{Bundle: c.Bundle}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPNH2},
		// The standard hostname check does not apply to SPIFFE identities;
		// VerifyConnection does the full chain and URI SAN verification.
		InsecureSkipVerify: true,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.Certs.GetCertificate(cri.Context(), c.Local)
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.NegotiatedProtocol != ALPNH2 {
				return errors.New("server did not negotiate ALPN h2")
			}
			_, err := v.VerifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, c.Expect)
			return err
		},
	}
}
