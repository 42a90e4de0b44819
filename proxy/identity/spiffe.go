// Package identity holds the mesh's workload identity: SPIFFE IDs, the
// certificates that carry them, the trust bundle they chain to, and the
// TLS verification that checks a peer is who the control plane says it is.
package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ID is a Wayfabric workload identity: spiffe://<trust-domain>/ns/<ns>/sa/<sa>.
type ID struct {
	TrustDomain    string
	Namespace      string
	ServiceAccount string
}

// New builds an ID and validates every part.
func New(trustDomain, namespace, serviceAccount string) (ID, error) {
	id := ID{TrustDomain: trustDomain, Namespace: namespace, ServiceAccount: serviceAccount}
	return id, id.Validate()
}

// Parse parses "spiffe://<td>/ns/<ns>/sa/<sa>". It is strict: no query,
// fragment, port, user info, extra or empty path segments, or upper case
// trust domain, so two spellings can never name the same identity.
func Parse(s string) (ID, error) {
	const scheme = "spiffe://"
	if !strings.HasPrefix(s, scheme) {
		return ID{}, fmt.Errorf("spiffe id %q: must start with %q", s, scheme)
	}
	if strings.ContainsAny(s, "?#%") {
		return ID{}, fmt.Errorf("spiffe id %q: query, fragment and percent-encoding are not allowed", s)
	}
	rest := s[len(scheme):]
	td, path, ok := strings.Cut(rest, "/")
	if !ok {
		return ID{}, fmt.Errorf("spiffe id %q: missing path /ns/<namespace>/sa/<service-account>", s)
	}
	parts := strings.Split(path, "/")
	if len(parts) != 4 || parts[0] != "ns" || parts[2] != "sa" {
		return ID{}, fmt.Errorf("spiffe id %q: path must be /ns/<namespace>/sa/<service-account>", s)
	}
	return New(td, parts[1], parts[3])
}

// MustParse is Parse for constants in tests and defaults; it panics on error.
func MustParse(s string) ID {
	id, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return id
}

// Validate checks the trust domain is a lower-case DNS-like name and the
// namespace and service account are Kubernetes DNS-1123 names.
func (id ID) Validate() error {
	if err := validateTrustDomain(id.TrustDomain); err != nil {
		return err
	}
	if err := validateLabel("namespace", id.Namespace, 63); err != nil {
		return err
	}
	return validateLabel("service account", id.ServiceAccount, 253)
}

// IsZero reports whether id is the zero value (no identity).
func (id ID) IsZero() bool { return id == ID{} }

func (id ID) String() string {
	return "spiffe://" + id.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}

// URL returns the ID as a URI SAN for a certificate or CSR.
func (id ID) URL() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: id.TrustDomain, Path: "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount}
}

// FromCertificate extracts the single SPIFFE ID from a certificate's URI
// SANs. A certificate with none or several is rejected: the identity must
// be unambiguous.
func FromCertificate(cert *x509.Certificate) (ID, error) {
	return fromURIs(cert.URIs)
}

// FromCSR extracts the single SPIFFE ID requested by a CSR.
func FromCSR(csr *x509.CertificateRequest) (ID, error) {
	return fromURIs(csr.URIs)
}

func fromURIs(uris []*url.URL) (ID, error) {
	var found []ID
	for _, u := range uris {
		if u.Scheme != "spiffe" {
			continue
		}
		id, err := Parse(u.String())
		if err != nil {
			return ID{}, err
		}
		found = append(found, id)
	}
	switch len(found) {
	case 0:
		return ID{}, errors.New("no spiffe:// URI SAN")
	case 1:
		return found[0], nil
	default:
		return ID{}, fmt.Errorf("%d spiffe:// URI SANs, want exactly one", len(found))
	}
}

func validateTrustDomain(td string) error {
	if td == "" {
		return errors.New("trust domain is empty")
	}
	if len(td) > 255 {
		return fmt.Errorf("trust domain %q: longer than 255 characters", td)
	}
	for _, r := range td {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return fmt.Errorf("trust domain %q: only lower-case letters, digits, '.', '-' and '_' are allowed", td)
		}
	}
	return nil
}

func validateLabel(what, v string, maxLen int) error {
	if v == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(v) > maxLen {
		return fmt.Errorf("%s %q: longer than %d characters", what, v, maxLen)
	}
	for i, r := range v {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		inner := r == '-' || r == '.'
		if !alnum && !(inner && i > 0 && i < len(v)-1) {
			return fmt.Errorf("%s %q: must be a lower-case DNS name (a-z, 0-9, '-', '.')", what, v)
		}
	}
	return nil
}
