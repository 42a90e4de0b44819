// Package ca is the mesh certificate authority the manager runs on port
// 15012. Callers POST a CSR with their projected service-account token
// (audience "wayfabric"); the CA checks the token with a TokenReview,
// checks the caller may hold the requested SPIFFE identity, and signs.
// The wire protocol is in proxy/identity (SignRequest/SignResponse).
package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/wayfabric/wayfabric/controllers/internal/meta"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

// Defaults.
const (
	DefaultAddr            = ":15012"
	DefaultCertTTL         = 24 * time.Hour
	DefaultRootTTL         = 10 * 365 * 24 * time.Hour
	DefaultSecretName      = "wayfabric-ca"
	DefaultBundleConfigMap = meta.TrustBundleConfigMap
	BundleConfigMapKey     = meta.TrustBundleKey
	defaultRefresh         = 30 * time.Second
)

// Options configure the CA. Client should be uncached (client.New): the
// CA reads single pods and lists pods per node, which must not start a
// cluster-wide pod informer in the manager.
type Options struct {
	Client      client.Client
	Namespace   string // where the root Secret and bundle ConfigMap live
	TrustDomain string
	Addr        string        // default ":15012"
	CertTTL     time.Duration // default 24h
	RootTTL     time.Duration // default 10 years (new roots only)
	SecretName  string        // default "wayfabric-ca"
	// BundleConfigMap receives the trust bundle (PEM) for proxies to mount;
	// default "wayfabric-trust-bundle". "-" disables it.
	BundleConfigMap string
	// NodeProxies are the service accounts of ztunnels; they may obtain
	// the identity of any pod on their own node. Ignored when IsNodeProxy
	// is set. There is no default: without either, no caller is a node
	// proxy (a guessed account name would be a standing grant).
	NodeProxies []types.NamespacedName
	// IsNodeProxy decides dynamically which service accounts are ztunnels.
	// The manager uses ztunnel.NodeProxyCheck: ztunnel-<ZtunnelConfig> in
	// the operator namespace, for a ZtunnelConfig that exists.
	IsNodeProxy NodeProxyCheck
	// DNSNames of the CA's serving certificate; default
	// wayfabric-ca.<ns>.svc and wayfabric-ca.<ns>.svc.cluster.local.
	DNSNames []string
	// RefreshInterval re-reads the root Secret (root rotation); default 30s.
	RefreshInterval time.Duration
	Log             logr.Logger
	// Listener, if set, is served instead of listening on Addr (tests).
	Listener net.Listener
}

// RBAC of the CA (run inside the manager): TokenReviews authenticate callers,
// pods prove where a ztunnel runs, and the root lives in a Secret of the
// operator namespace only.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;update
// +kubebuilder:rbac:groups="",namespace=wayfabric-system,resources=secrets,verbs=get;create;update

// CA is a manager.Runnable serving the certificate API.
type CA struct {
	opts  Options
	authz *authorizer
	log   logr.Logger

	root    atomic.Pointer[rootState]
	serving atomic.Pointer[tls.Certificate]

	ready     chan struct{}
	readyOnce sync.Once
	addr      atomic.Value // net.Addr once listening
}

var (
	_ manager.Runnable               = (*CA)(nil)
	_ manager.LeaderElectionRunnable = (*CA)(nil)
)

// New validates opts and returns a CA; call Start (or mgr.Add it).
func New(opts Options) (*CA, error) {
	if opts.Client == nil {
		return nil, errors.New("ca: Options.Client is required")
	}
	if opts.Namespace == "" {
		return nil, errors.New("ca: Options.Namespace is required")
	}
	probe := identity.ID{TrustDomain: opts.TrustDomain, Namespace: "x", ServiceAccount: "x"}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("ca: trust domain: %w", err)
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.CertTTL <= 0 {
		opts.CertTTL = DefaultCertTTL
	}
	if opts.RootTTL <= 0 {
		opts.RootTTL = DefaultRootTTL
	}
	if opts.SecretName == "" {
		opts.SecretName = DefaultSecretName
	}
	if opts.BundleConfigMap == "" {
		opts.BundleConfigMap = DefaultBundleConfigMap
	}
	if len(opts.DNSNames) == 0 {
		opts.DNSNames = []string{"wayfabric-ca." + opts.Namespace + ".svc", "wayfabric-ca." + opts.Namespace + ".svc.cluster.local"}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = defaultRefresh
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	isNodeProxy := opts.IsNodeProxy
	if isNodeProxy == nil {
		isNodeProxy = NodeProxySet(opts.NodeProxies...)
	}
	return &CA{
		opts:  opts,
		authz: &authorizer{client: opts.Client, isNodeProxy: isNodeProxy},
		log:   opts.Log.WithName("ca"),
		ready: make(chan struct{}),
	}, nil
}

// NewFromConfig builds the uncached client itself (for cmd/manager).
func NewFromConfig(cfg *rest.Config, opts Options) (*CA, error) {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("ca: client: %w", err)
	}
	opts.Client = c
	return New(opts)
}

// NeedLeaderElection is false: every manager replica serves the CA.
func (ca *CA) NeedLeaderElection() bool { return false }

// Ready is closed once the root is loaded and the CA is listening.
func (ca *CA) Ready() <-chan struct{} { return ca.ready }

// Addr is the listening address (valid after Ready).
func (ca *CA) Addr() net.Addr {
	a, _ := ca.addr.Load().(net.Addr)
	return a
}

// TrustBundle returns the roots peers must trust (valid after Ready).
func (ca *CA) TrustBundle() []*x509.Certificate {
	if r := ca.root.Load(); r != nil {
		return append([]*x509.Certificate(nil), r.roots...)
	}
	return nil
}

// Start loads or creates the root, serves HTTPS until ctx ends, and keeps
// following the root Secret.
func (ca *CA) Start(ctx context.Context) error {
	key := types.NamespacedName{Namespace: ca.opts.Namespace, Name: ca.opts.SecretName}
	st, err := loadOrCreateRoot(ctx, ca.opts.Client, key, ca.opts.TrustDomain, ca.opts.RootTTL)
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := ca.setRoot(ctx, st); err != nil {
		return err
	}
	l := ca.opts.Listener
	if l == nil {
		if l, err = net.Listen("tcp", ca.opts.Addr); err != nil {
			return fmt.Errorf("ca: listen %s: %w", ca.opts.Addr, err)
		}
	}
	ca.addr.Store(l.Addr())
	srv := &http.Server{
		Handler:           ca.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          log.New(logWriter{ca.log}, "", 0),
		TLSConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return ca.serving.Load(), nil
			},
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(l, "", "") }()
	ca.readyOnce.Do(func() { close(ca.ready) })
	ca.log.Info("mesh CA serving", "addr", l.Addr().String(), "trustDomain", ca.opts.TrustDomain, "roots", len(st.roots))

	t := time.NewTicker(ca.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			return nil
		case err := <-errc:
			return fmt.Errorf("ca: serve: %w", err)
		case <-t.C:
			ca.refresh(ctx, key)
		}
	}
}

// refresh re-reads the root Secret so rotation steps apply without a
// restart; a broken Secret is reported and the last good root kept.
func (ca *CA) refresh(ctx context.Context, key types.NamespacedName) {
	var sec corev1.Secret
	if err := ca.opts.Client.Get(ctx, key, &sec); err != nil {
		ca.log.Error(err, "re-reading root secret; keeping the current root")
		return
	}
	cur := ca.root.Load()
	if cur != nil && cur.version == sec.ResourceVersion && time.Until(ca.serving.Load().Leaf.NotAfter) > 24*time.Hour {
		return
	}
	st, err := parseRootSecret(&sec)
	if err != nil {
		ca.log.Error(err, "root secret is invalid; keeping the current root")
		return
	}
	if err := ca.setRoot(ctx, st); err != nil {
		ca.log.Error(err, "applying root secret")
	}
}

func (ca *CA) setRoot(ctx context.Context, st *rootState) error {
	der, key, err := st.signer.signServing(ca.opts.DNSNames, 7*24*time.Hour, time.Now())
	if err != nil {
		return fmt.Errorf("ca: serving certificate: %w", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	ca.serving.Store(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf})
	ca.root.Store(st)
	if ca.opts.BundleConfigMap != "-" {
		if err := ca.publishBundle(ctx, st); err != nil {
			// Not fatal: the bundle also travels with every signed certificate.
			ca.log.Error(err, "publishing trust bundle ConfigMap")
		}
	}
	return nil
}

func (ca *CA) publishBundle(ctx context.Context, st *rootState) error {
	want := string(bundlePEM(st.roots))
	cm := &corev1.ConfigMap{}
	key := types.NamespacedName{Namespace: ca.opts.Namespace, Name: ca.opts.BundleConfigMap}
	err := ca.opts.Client.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
				Labels: map[string]string{"app.kubernetes.io/part-of": "wayfabric"}},
			Data: map[string]string{BundleConfigMapKey: want},
		}
		return ca.opts.Client.Create(ctx, cm)
	}
	if err != nil {
		return err
	}
	if cm.Data[BundleConfigMapKey] == want {
		return nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[BundleConfigMapKey] = want
	return ca.opts.Client.Update(ctx, cm)
}

// Handler returns the CA's HTTP API (exposed for tests and embedding).
func (ca *CA) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+identity.SignPath, ca.handleSign)
	mux.HandleFunc("GET "+identity.BundlePath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(bundlePEM(ca.root.Load().roots)) // a client gone mid-answer is not ours to report
	})
	return mux
}

func (ca *CA) handleSign(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		ca.fail(w, r, nil, unauthenticated("missing Authorization: Bearer <service-account token>"))
		return
	}
	var req identity.SignRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		ca.fail(w, r, nil, &refusal{status: 400, msg: "request body: " + err.Error()})
		return
	}
	cl, err := authenticate(r.Context(), ca.opts.Client, strings.TrimSpace(token), identity.TokenAudience)
	if err != nil {
		ca.fail(w, r, nil, err)
		return
	}
	csr, want, err := ParseWorkloadCSR([]byte(req.CSR), ca.opts.TrustDomain)
	if err != nil {
		ca.fail(w, r, cl, &refusal{status: 400, msg: "csr: " + err.Error()})
		return
	}
	if err := ca.authz.authorize(r.Context(), cl, want); err != nil {
		ca.fail(w, r, cl, err)
		return
	}
	st := ca.root.Load()
	chain, err := st.signer.signWorkload(want, csr.PublicKey, ca.opts.CertTTL, time.Now())
	if err != nil {
		ca.fail(w, r, cl, err)
		return
	}
	ca.log.V(1).Info("issued certificate", "identity", want.String(), "caller", cl.serviceAccount.String(), "pod", cl.podName)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(identity.SignResponse{CertificateChain: string(chain), TrustBundle: string(bundlePEM(st.roots))})
}

// logWriter sends net/http's server errors (TLS handshake failures from
// scanners, mostly) to the structured log at debug level.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.V(1).Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (ca *CA) fail(w http.ResponseWriter, r *http.Request, cl *caller, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == 500 {
		msg = "internal error" // details go to the log, not to the caller
	}
	kv := []any{"status", status, "remote", r.RemoteAddr}
	if cl != nil {
		kv = append(kv, "caller", cl.serviceAccount.String(), "pod", cl.podName)
	}
	ca.log.Info("certificate request refused", append(kv, "reason", err.Error())...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(identity.ErrorResponse{Error: msg})
}
