package waypoint

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// TestCAServerName: a waypoint reaching the mesh CA by IP (as one run
// outside the cluster does) verifies the CA's certificate against
// CAServerName; without it the IP is checked and the TLS handshake fails.
func TestCAServerName(t *testing.T) {
	const caName = "wayfabric-ca.wayfabric-system.svc"
	const refusal = "test CA refuses every request"
	cert, rootPEM := selfSignedServer(t, caName)
	ca := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Reaching the handler means TLS verification passed.
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(identity.ErrorResponse{Error: refusal})
	}))
	ca.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ca.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ca.StartTLS()
	defer ca.Close()

	dir := t.TempDir()
	rootFile, tokenFile := filepath.Join(dir, "root.pem"), filepath.Join(dir, "token")
	if err := os.WriteFile(rootFile, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, serverName, wantErr string
	}{
		{name: "server name set: TLS verified, the CA answers", serverName: caName, wantErr: refusal},
		{name: "no server name: the IP is not in the certificate", wantErr: "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			mi, err := newMeshIdentity(ctx, RunOptions{
				Namespace: "app", ServiceAccount: "wp", TrustDomain: "cluster.local",
				CAURL: ca.URL, CAServerName: tc.serverName, RootCertFile: rootFile, TokenFile: tokenFile,
			}, logr.Discard())
			if err != nil {
				t.Fatal(err)
			}
			_, err = mi.certs.GetCertificate(ctx, mi.self)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.serverName == "" && strings.Contains(err.Error(), refusal) {
				t.Fatalf("the CA answered although its certificate does not name %s: %v", ca.URL, err)
			}
		})
	}
}

// selfSignedServer is a serving certificate for dnsName only, its own root.
func selfSignedServer(t *testing.T, dnsName string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
