package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wayfabric/wayfabric/internal/testenv"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

const (
	systemNS = "wayfabric-system"
	appsNS   = "apps"
	td       = "cluster.local"
)

// k8s is the envtest client; nil when KUBEBUILDER_ASSETS is unset.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return m.Run() // envtest tests skip themselves with a message
	}
	// envtest configures the API server's service-account issuer and
	// signing keys (--service-account-issuer, --service-account-key-file,
	// --service-account-signing-key-file), so TokenRequest and TokenReview
	// are real. We pin the issuer to make that explicit.
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	env.ControlPlane.GetAPIServer().Configure().
		Set("service-account-issuer", "https://kubernetes.default.svc.cluster.local").
		Set("api-audiences", "https://kubernetes.default.svc.cluster.local", identity.TokenAudience)
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envtest: %v\n", err)
		return 1
	}
	defer env.Stop()
	k8s, err = client.New(cfg, client.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	if err := seed(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		return 1
	}
	return m.Run()
}

func needEnvtest(t *testing.T) {
	t.Helper()
	if k8s == nil {
		testenv.RequireAssets(t) // TestMain starts envtest whenever the assets are set
	}
}

// ztunnelSA is the node proxy account, named as the operator names the
// ServiceAccount of ZtunnelConfig "default".
const ztunnelSA = "ztunnel-default"

// Pods: ztunnel-a on node-a, ztunnel-b on node-b; web on node-a, db on
// node-b, waypoint on node-a.
var seedPods = []struct{ ns, name, sa, node string }{
	{systemNS, "ztunnel-a", ztunnelSA, "node-a"},
	{systemNS, "ztunnel-b", ztunnelSA, "node-b"},
	{systemNS, "impostor-a", "ztunnel", "node-a"}, // an account named like a node proxy, not one
	{appsNS, "web-1", "web", "node-a"},
	{appsNS, "db-1", "db", "node-b"},
	{appsNS, "waypoint-1", "waypoint", "node-a"},
}

func seed(ctx context.Context) error {
	for _, ns := range []string{systemNS, appsNS} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	sas := map[types.NamespacedName]bool{}
	for _, p := range seedPods {
		sa := types.NamespacedName{Namespace: p.ns, Name: p.sa}
		if !sas[sa] {
			sas[sa] = true
			if err := k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.sa}}); err != nil {
				return err
			}
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name},
			Spec: corev1.PodSpec{
				NodeName:                     p.node, // scheduled without a scheduler
				ServiceAccountName:           p.sa,
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
			},
		}
		if err := k8s.Create(ctx, pod); err != nil {
			return err
		}
	}
	return nil
}

// token mints a projected-style token for sa via the TokenRequest API,
// bound to pod if pod != "".
func token(t *testing.T, ns, sa, pod, audience string) string {
	t.Helper()
	ctx := context.Background()
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{
		Audiences:         []string{audience},
		ExpirationSeconds: ptr.To[int64](600),
	}}
	if pod != "" {
		var p corev1.Pod
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: pod}, &p); err != nil {
			t.Fatal(err)
		}
		tr.Spec.BoundObjectRef = &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}
	}
	svc := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}
	if err := k8s.SubResource("token").Create(ctx, svc, tr); err != nil {
		t.Fatalf("TokenRequest %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

// startCA runs a CA on loopback and returns it with a client trust bundle.
func startCA(t *testing.T, opts Options) *CA {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Client = k8s
	opts.Listener = l
	if opts.Namespace == "" {
		opts.Namespace = systemNS
	}
	if opts.TrustDomain == "" {
		opts.TrustDomain = td
	}
	if opts.NodeProxies == nil && opts.IsNodeProxy == nil {
		opts.NodeProxies = []types.NamespacedName{{Namespace: systemNS, Name: ztunnelSA}}
	}
	ca, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ca.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("CA Start returned %v", err)
		}
	})
	select {
	case <-ca.Ready():
	case err := <-done:
		t.Fatalf("CA did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("CA did not become ready")
	}
	return ca
}

func caClient(ca *CA, tok string) *identity.CAClient {
	return &identity.CAClient{
		URL:        "https://" + ca.Addr().String(),
		Token:      func() (string, error) { return tok, nil },
		Bundle:     identity.NewBundle(ca.TrustBundle()...),
		ServerName: "wayfabric-ca." + systemNS + ".svc",
	}
}

func sign(ctx context.Context, c *identity.CAClient, id identity.ID) (*x509.Certificate, *identity.Signed, error) {
	_, csr, err := identity.NewKeyAndCSR(id)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.Sign(ctx, csr)
	if err != nil {
		return nil, nil, err
	}
	certs, err := identity.ParseCertificatesPEM(s.ChainPEM)
	if err != nil {
		return nil, nil, err
	}
	return certs[0], s, nil
}

func TestCAAuthorization(t *testing.T) {
	needEnvtest(t)
	ca := startCA(t, Options{SecretName: "ca-authz"})
	id := func(ns, sa string) identity.ID {
		return identity.ID{TrustDomain: td, Namespace: ns, ServiceAccount: sa}
	}

	tests := []struct {
		name       string
		token      string
		want       identity.ID
		wantStatus int // 0: issued
	}{
		{"ztunnel gets identity of a pod on its node", token(t, systemNS, ztunnelSA, "ztunnel-a", "wayfabric"), id(appsNS, "web"), 0},
		{"ztunnel on node-b gets db on node-b", token(t, systemNS, ztunnelSA, "ztunnel-b", "wayfabric"), id(appsNS, "db"), 0},
		{"ztunnel on node-a cannot get db on node-b", token(t, systemNS, ztunnelSA, "ztunnel-a", "wayfabric"), id(appsNS, "db"), 403},
		{"ztunnel cannot get an identity with no pod at all", token(t, systemNS, ztunnelSA, "ztunnel-a", "wayfabric"), id(appsNS, "ghost"), 403},
		{"an account named ztunnel is no node proxy", token(t, systemNS, "ztunnel", "impostor-a", "wayfabric"), id(appsNS, "web"), 403},
		{"ztunnel token not bound to a pod", token(t, systemNS, ztunnelSA, "", "wayfabric"), id(appsNS, "web"), 403},
		{"waypoint gets its own identity", token(t, appsNS, "waypoint", "waypoint-1", "wayfabric"), id(appsNS, "waypoint"), 0},
		{"waypoint cannot get another account's identity", token(t, appsNS, "waypoint", "waypoint-1", "wayfabric"), id(appsNS, "web"), 403},
		{"token for another audience", token(t, appsNS, "waypoint", "waypoint-1", "https://kubernetes.default.svc.cluster.local"), id(appsNS, "waypoint"), 401},
		{"garbage token", "not-a-jwt", id(appsNS, "web"), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := caClient(ca, tt.token)
			leaf, signed, err := sign(ctx, c, tt.want)
			if tt.wantStatus != 0 {
				var ce *identity.CAError
				if !errors.As(err, &ce) || ce.Status != tt.wantStatus {
					t.Fatalf("got err %v, want HTTP %d", err, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := identity.FromCertificate(leaf)
			if err != nil || got != tt.want {
				t.Fatalf("issued identity %v (%v), want %s", got, err, tt.want)
			}
			if ttl := time.Until(leaf.NotAfter); ttl < 23*time.Hour || ttl > 24*time.Hour+time.Minute {
				t.Errorf("certificate TTL %v, want about 24h", ttl)
			}
			v := identity.Verifier{Bundle: identity.NewBundle(signed.Roots...)}
			if _, err := v.VerifyPeer([]*x509.Certificate{leaf}, x509.ExtKeyUsageClientAuth, identity.Exactly(tt.want)); err != nil {
				t.Errorf("issued certificate does not verify against the bundle: %v", err)
			}
		})
	}
}

func TestCARejectsForeignTrustDomain(t *testing.T) {
	needEnvtest(t)
	ca := startCA(t, Options{SecretName: "ca-td"})
	c := caClient(ca, token(t, appsNS, "waypoint", "waypoint-1", "wayfabric"))
	_, _, err := sign(context.Background(), c, identity.ID{TrustDomain: "evil.example", Namespace: appsNS, ServiceAccount: "waypoint"})
	var ce *identity.CAError
	if !errors.As(err, &ce) || ce.Status != 400 {
		t.Fatalf("got %v, want HTTP 400", err)
	}
}

// TestRootPersistsAndRotates: the root survives a restart (it lives in the
// Secret) and the three rotation steps change bundle and signer as
// documented, without a window where a peer's certificate is untrusted.
func TestRootPersistsAndRotates(t *testing.T) {
	needEnvtest(t)
	ctx := context.Background()
	opts := Options{SecretName: "ca-rotate", RefreshInterval: 100 * time.Millisecond}
	first := startCA(t, opts)
	rootA := first.TrustBundle()[0]

	second := startCA(t, opts) // a second replica / a restart
	if got := second.TrustBundle(); len(got) != 1 || !got[0].Equal(rootA) {
		t.Fatalf("restart produced a different root")
	}

	c := caClient(second, token(t, appsNS, "waypoint", "waypoint-1", "wayfabric"))
	me := identity.ID{TrustDomain: td, Namespace: appsNS, ServiceAccount: "waypoint"}
	oldLeaf, _, err := sign(ctx, c, me)
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: systemNS, Name: "ca-rotate"}

	// Each step: apply, wait for the CA to pick it up, check who signs and
	// what the bundle holds, and that every certificate issued so far
	// still verifies against the bundle clients now receive.
	issued := []*x509.Certificate{oldLeaf}
	steps := []struct {
		name        string
		apply       func() error
		bundleLen   int
		signedByOld bool
	}{
		{"stage", func() error { return StageRoot(ctx, k8s, key, td, time.Hour) }, 2, true},
		{"promote", func() error { return PromoteRoot(ctx, k8s, key) }, 2, false},
	}
	for _, st := range steps {
		if err := st.apply(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var leaf *x509.Certificate
		var signed *identity.Signed
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaf, signed, err = sign(ctx, c, me)
			if err != nil {
				t.Fatal(err)
			}
			byOld := leaf.CheckSignatureFrom(rootA) == nil
			if len(signed.Roots) == st.bundleLen && byOld == st.signedByOld {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: bundle has %d roots (want %d), signed by old root %v (want %v)", st.name, len(signed.Roots), st.bundleLen, byOld, st.signedByOld)
			}
			time.Sleep(50 * time.Millisecond)
		}
		issued = append(issued, leaf)
		v := identity.Verifier{Bundle: identity.NewBundle(signed.Roots...)}
		for i, cert := range issued {
			if _, err := v.VerifyPeer([]*x509.Certificate{cert}, x509.ExtKeyUsageServerAuth, nil); err != nil {
				t.Errorf("%s: certificate %d no longer verifies: %v", st.name, i, err)
			}
		}
	}
	if err := RetireOldRoots(ctx, k8s, key); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(second.TrustBundle()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("retire: old root still in the bundle")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if second.TrustBundle()[0].Equal(rootA) {
		t.Fatal("retire kept the old root instead of the new one")
	}
	// The bundle ConfigMap follows the Secret.
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: systemNS, Name: DefaultBundleConfigMap}, &cm); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.ParseCertificatesPEM([]byte(cm.Data[BundleConfigMapKey])); err != nil {
		t.Errorf("bundle ConfigMap: %v", err)
	}
}

// TestCertCacheAgainstCA: the client-side cache fetches from the real CA
// and renews at half-life.
func TestCertCacheAgainstCA(t *testing.T) {
	needEnvtest(t)
	ca := startCA(t, Options{SecretName: "ca-cache", CertTTL: 3 * time.Second, BundleConfigMap: "-"})
	c := caClient(ca, token(t, appsNS, "waypoint", "waypoint-1", "wayfabric"))
	bundle := identity.NewBundle()
	cache := identity.NewCertCache(context.Background(), c, bundle, identity.CacheOptions{MinBackoff: 50 * time.Millisecond})
	defer cache.Close()
	me := identity.ID{TrustDomain: td, Namespace: appsNS, ServiceAccount: "waypoint"}
	start := time.Now()
	first, err := cache.GetCertificate(context.Background(), me)
	if err != nil {
		t.Fatal(err)
	}
	if len(bundle.Roots()) != 1 {
		t.Fatalf("bundle not filled from the CA response")
	}
	// TTL 3s: the renewal is due after about 1.5s.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cur, err := cache.GetCertificate(context.Background(), me)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
			if d := time.Since(start); d < 900*time.Millisecond {
				t.Errorf("renewed after %v, before half-life", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("certificate was not renewed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTrustBundleEndpoint: GET /v1/trust-bundle serves the roots without
// authentication, over TLS verified by those roots.
func TestTrustBundleEndpoint(t *testing.T) {
	needEnvtest(t)
	ca := startCA(t, Options{SecretName: "ca-bundle", BundleConfigMap: "-"})
	pool := identity.NewBundle(ca.TrustBundle()...).Pool()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "wayfabric-ca." + systemNS + ".svc"}}}
	resp, err := hc.Get("https://" + ca.Addr().String() + identity.BundlePath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	roots, err := identity.ParseCertificatesPEM(body)
	if resp.StatusCode != 200 || err != nil || len(roots) != 1 || !roots[0].Equal(ca.TrustBundle()[0]) {
		t.Fatalf("status %d, %d roots, err %v", resp.StatusCode, len(roots), err)
	}
}
