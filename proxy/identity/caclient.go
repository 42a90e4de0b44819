package identity

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Wire protocol of the mesh CA (HTTPS on :15012, see docs/identity.md).
const (
	SignPath   = "/v1/sign"
	BundlePath = "/v1/trust-bundle"
	// TokenAudience is the audience of the projected service-account token
	// a caller presents to the CA.
	TokenAudience = "wayfabric"
)

// SignRequest is the JSON body of POST /v1/sign.
type SignRequest struct {
	CSR string `json:"csr"` // PEM CERTIFICATE REQUEST with exactly one spiffe:// URI SAN
}

// SignResponse is the JSON answer of POST /v1/sign.
type SignResponse struct {
	CertificateChain string `json:"certificateChain"` // PEM, leaf first
	TrustBundle      string `json:"trustBundle"`      // PEM roots to trust (old and new during a rotation)
}

// ErrorResponse is the JSON body of every non-200 answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ProviderFunc adapts a function to CertProvider.
type ProviderFunc func(ctx context.Context, id ID) (*tls.Certificate, error)

// GetCertificate implements CertProvider.
func (f ProviderFunc) GetCertificate(ctx context.Context, id ID) (*tls.Certificate, error) {
	return f(ctx, id)
}

// CAClient is an Issuer talking to the mesh CA over HTTPS, verifying the
// CA's serving certificate against Bundle.
type CAClient struct {
	// URL of the CA, e.g. https://wayfabric-ca.wayfabric-system.svc:15012.
	URL string
	// Token returns the caller's projected service-account token; it is
	// called for every request because the kubelet rotates the file.
	Token  func() (string, error)
	Bundle *Bundle
	// ServerName overrides the name checked in the CA's certificate.
	ServerName string
	Timeout    time.Duration // per request, default 10s
}

// TokenFile returns a Token func reading a projected token file.
func TokenFile(path string) func() (string, error) {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
}

// Sign implements Issuer.
func (c *CAClient) Sign(ctx context.Context, csrPEM []byte) (*Signed, error) {
	if c.Bundle == nil || c.Token == nil {
		return nil, errors.New("mesh CA client: Bundle and Token are required")
	}
	token, err := c.Token()
	if err != nil {
		return nil, fmt.Errorf("read service-account token: %w", err)
	}
	body, _ := json.Marshal(SignRequest{CSR: string(csrPEM)})
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+SignPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("mesh CA: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("mesh CA: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		_ = json.Unmarshal(data, &e)
		return nil, &CAError{Status: resp.StatusCode, Message: e.Error}
	}
	var sr SignResponse
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("mesh CA: decode answer: %w", err)
	}
	roots, err := ParseCertificatesPEM([]byte(sr.TrustBundle))
	if err != nil {
		return nil, fmt.Errorf("mesh CA: trust bundle: %w", err)
	}
	// The answer came over TLS verified against our current roots, so its
	// bundle is trustworthy: following it is how a root rotation reaches
	// us (the staged root arrives before it signs anything).
	c.Bundle.Set(roots)
	return &Signed{ChainPEM: []byte(sr.CertificateChain), Roots: roots}, nil
}

func (c *CAClient) httpClient() *http.Client {
	// A fresh transport per call picks up the current bundle; renewals are
	// rare (hours apart) so connection reuse buys nothing.
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS13,
			RootCAs:    c.Bundle.Pool(),
			ServerName: c.ServerName,
		},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr}
}

// CAError is a refusal from the CA (bad token, forbidden identity, bad CSR).
type CAError struct {
	Status  int
	Message string
}

func (e *CAError) Error() string {
	return fmt.Sprintf("mesh CA refused (HTTP %d): %s", e.Status, e.Message)
}
