package identity_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

var me = identity.MustParse("spiffe://cluster.local/ns/apps/sa/web")

func newCache(t *testing.T, ca *identitytest.CA) (*identity.CertCache, *identity.Bundle) {
	bundle := identity.NewBundle()
	c := identity.NewCertCache(context.Background(), ca, bundle, identity.CacheOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	t.Cleanup(c.Close)
	return c, bundle
}

func TestCertCacheFetchesOnceAndFillsBundle(t *testing.T) {
	ca := identitytest.NewCA("root")
	cache, bundle := newCache(t, ca)
	a, err := cache.GetCertificate(context.Background(), me)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.GetCertificate(context.Background(), me)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || ca.Signed.Load() != 1 {
		t.Errorf("second call fetched again (%d signs)", ca.Signed.Load())
	}
	if got, _ := identity.FromCertificate(a.Leaf); got != me {
		t.Errorf("certificate is for %v", got)
	}
	v := identity.Verifier{Bundle: bundle}
	if _, err := v.VerifyPeer([]*x509.Certificate{a.Leaf}, x509.ExtKeyUsageClientAuth, identity.Exactly(me)); err != nil {
		t.Errorf("bundle from the issuer does not verify the certificate: %v", err)
	}
}

func TestCertCacheRenewsAtHalfLife(t *testing.T) {
	ca := identitytest.NewCA("root")
	ca.TTL = 4 * time.Second // X.509 truncates to seconds: life is 3-4s
	cache, _ := newCache(t, ca)
	start := time.Now()
	first, err := cache.GetCertificate(context.Background(), me)
	if err != nil {
		t.Fatal(err)
	}
	for ca.Signed.Load() < 2 {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no renewal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	life := first.Leaf.NotAfter.Sub(start)
	if d := time.Since(start); d < life/2-100*time.Millisecond || d > life/2+time.Second {
		t.Errorf("renewed after %v, want about half of the %v lifetime", d, life)
	}
	cur, _ := cache.GetCertificate(context.Background(), me)
	if cur.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Error("cache still serves the old certificate after renewal")
	}
}

// TestCertCacheNeverServesExpired: while the CA is down the certificate
// expires; the cache then errors (instead of presenting it), keeps
// retrying, and recovers when the CA is back.
func TestCertCacheNeverServesExpired(t *testing.T) {
	ca := identitytest.NewCA("root")
	ca.TTL = 2 * time.Second
	cache, _ := newCache(t, ca)
	if _, err := cache.GetCertificate(context.Background(), me); err != nil {
		t.Fatal(err)
	}
	ca.Fail.Store(true)
	cert, _ := cache.GetCertificate(context.Background(), me)
	time.Sleep(time.Until(cert.Leaf.NotAfter) + 50*time.Millisecond) // past expiry
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if cert, err := cache.GetCertificate(ctx, me); err == nil {
		t.Fatalf("got a certificate valid until %v while the CA is down", cert.Leaf.NotAfter)
	}
	ca.Fail.Store(false)
	deadline := time.Now().Add(3 * time.Second)
	for {
		cert, err := cache.GetCertificate(context.Background(), me)
		if err == nil {
			if !time.Now().Before(cert.Leaf.NotAfter) {
				t.Fatal("expired certificate served")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the CA came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCertCacheRejectsInvalidID(t *testing.T) {
	cache, _ := newCache(t, identitytest.NewCA("root"))
	if _, err := cache.GetCertificate(context.Background(), identity.ID{TrustDomain: "td"}); err == nil {
		t.Fatal("invalid identity accepted")
	}
}
