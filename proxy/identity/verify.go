package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Reason says why a peer was rejected; it is stable and meant for logs and
// metric labels.
type Reason string

const (
	ReasonNoCertificate    Reason = "no_certificate"
	ReasonNoIdentity       Reason = "no_identity"
	ReasonUnknownAuthority Reason = "unknown_authority"
	ReasonExpired          Reason = "expired"
	ReasonNotYetValid      Reason = "not_yet_valid"
	ReasonInvalidChain     Reason = "invalid_chain"
	ReasonWrongIdentity    Reason = "wrong_identity"
)

// VerifyError is returned when a peer certificate is refused.
type VerifyError struct {
	Reason Reason
	Peer   ID // set when the certificate carried a parseable identity
	Err    error
}

func (e *VerifyError) Error() string {
	if e.Peer.IsZero() {
		return fmt.Sprintf("peer rejected (%s): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("peer %s rejected (%s): %v", e.Peer, e.Reason, e.Err)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// ReasonOf returns the rejection reason carried by err, or "" if err is not
// (or does not wrap) a VerifyError.
func ReasonOf(err error) Reason {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

// Matcher decides whether a verified peer identity is acceptable.
type Matcher func(ID) error

// Exactly accepts only want.
func Exactly(want ID) Matcher {
	return func(got ID) error {
		if got != want {
			return fmt.Errorf("got %s, want %s", got, want)
		}
		return nil
	}
}

// AnyOf accepts any of the given identities.
func AnyOf(ids ...ID) Matcher {
	return func(got ID) error {
		for _, id := range ids {
			if got == id {
				return nil
			}
		}
		return fmt.Errorf("%s is not one of the %d allowed identities", got, len(ids))
	}
}

// InTrustDomain accepts any identity of the trust domain td.
func InTrustDomain(td string) Matcher {
	return func(got ID) error {
		if got.TrustDomain != td {
			return fmt.Errorf("trust domain %q, want %q", got.TrustDomain, td)
		}
		return nil
	}
}

// Verifier checks a peer's certificate chain against the trust bundle and
// its SPIFFE identity against a Matcher.
type Verifier struct {
	Bundle *Bundle
}

// VerifyPeer verifies the chain (leaf first) for the given extended key
// usage and returns the peer's identity, or a *VerifyError.
func (v Verifier) VerifyPeer(chain []*x509.Certificate, usage x509.ExtKeyUsage, match Matcher) (ID, error) {
	if len(chain) == 0 {
		return ID{}, &VerifyError{Reason: ReasonNoCertificate, Err: errors.New("peer sent no certificate")}
	}
	leaf := chain[0]
	id, err := FromCertificate(leaf)
	if err != nil {
		return ID{}, &VerifyError{Reason: ReasonNoIdentity, Err: err}
	}
	now := time.Now()
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         v.Bundle.Pool(),
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return id, &VerifyError{Reason: chainReason(err, now), Peer: id, Err: err}
	}
	if match != nil {
		if err := match(id); err != nil {
			return id, &VerifyError{Reason: ReasonWrongIdentity, Peer: id, Err: err}
		}
	}
	return id, nil
}

func chainReason(err error, now time.Time) Reason {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return ReasonUnknownAuthority
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == x509.Expired {
		if ci.Cert != nil && now.Before(ci.Cert.NotBefore) {
			return ReasonNotYetValid
		}
		return ReasonExpired
	}
	return ReasonInvalidChain
}

// PeerID returns the identity of an already verified TLS peer.
func PeerID(cs *tls.ConnectionState) (ID, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return ID{}, errors.New("no peer certificate")
	}
	return FromCertificate(cs.PeerCertificates[0])
}
