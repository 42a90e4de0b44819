package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

func csrPEM(t testing.TB, key any, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func uris(s ...string) []*url.URL {
	var out []*url.URL
	for _, x := range s {
		u, _ := url.Parse(x)
		out = append(out, u)
	}
	return out
}

func TestParseWorkloadCSR(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := "spiffe://cluster.local/ns/apps/sa/web"
	_, validPEM, _ := identity.NewKeyAndCSR(identity.MustParse(good))
	tests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"valid", validPEM, ""},
		{"empty", nil, "empty"},
		{"not PEM", []byte("hello"), "no PEM block"},
		{"certificate instead of CSR", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "want CERTIFICATE REQUEST"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "parse CSR"},
		{"two CSRs", append(append([]byte{}, validPEM...), validPEM...), "trailing data"},
		{"no URI", csrPEM(t, p256, &x509.CertificateRequest{}), "want exactly one"},
		{"two URIs", csrPEM(t, p256, &x509.CertificateRequest{URIs: uris(good, "spiffe://cluster.local/ns/apps/sa/db")}), "want exactly one"},
		{"DNS SAN", csrPEM(t, p256, &x509.CertificateRequest{URIs: uris(good), DNSNames: []string{"evil.example"}}), "only carry"},
		{"IP SAN", csrPEM(t, p256, &x509.CertificateRequest{URIs: uris(good), IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}), "only carry"},
		{"not spiffe", csrPEM(t, p256, &x509.CertificateRequest{URIs: uris("https://example.com")}), "no spiffe"},
		{"bad spiffe path", csrPEM(t, p256, &x509.CertificateRequest{URIs: uris("spiffe://cluster.local/ns/apps")}), "path must be"},
		{"other trust domain", csrPEM(t, p256, &x509.CertificateRequest{URIs: uris("spiffe://evil.example/ns/apps/sa/web")}), "trust domain"},
		{"weak curve", csrPEM(t, p224, &x509.CertificateRequest{URIs: uris(good)}), "curve"},
		{"small RSA", csrPEM(t, rsa1024, &x509.CertificateRequest{URIs: uris(good)}), "minimum 2048"},
		{"too large", []byte(strings.Repeat("A", maxCSRBytes+1)), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, id, err := ParseWorkloadCSR(tt.pem, "cluster.local")
			if tt.wantErr == "" {
				if err != nil || id.String() != good {
					t.Fatalf("got %v, %v; want %s", id, err, good)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestTamperedCSRSignature(t *testing.T) {
	_, p, _ := identity.NewKeyAndCSR(identity.MustParse("spiffe://cluster.local/ns/apps/sa/web"))
	block, _ := pem.Decode(p)
	block.Bytes[len(block.Bytes)-3] ^= 0xff // inside the signature
	_, _, err := ParseWorkloadCSR(pem.EncodeToMemory(block), "cluster.local")
	if err == nil {
		t.Fatal("CSR with a broken signature accepted")
	}
}

// FuzzParseWorkloadCSR: arbitrary input never panics, and anything
// accepted names exactly one valid identity in our trust domain.
func FuzzParseWorkloadCSR(f *testing.F) {
	_, valid, _ := identity.NewKeyAndCSR(identity.MustParse("spiffe://cluster.local/ns/apps/sa/web"))
	f.Add(valid)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte("not pem at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, id, err := ParseWorkloadCSR(data, "cluster.local")
		if err != nil {
			return
		}
		if id.TrustDomain != "cluster.local" || id.Validate() != nil {
			t.Fatalf("accepted identity %v", id)
		}
		if len(csr.URIs) != 1 || len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) != 0 {
			t.Fatalf("accepted CSR with SANs %v %v %v", csr.URIs, csr.DNSNames, csr.IPAddresses)
		}
	})
}
