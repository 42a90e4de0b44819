package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// Keys of the root Secret (see docs/identity.md, "Root rotation").
const (
	KeyRootCert    = "ca.crt"           // active signing root
	KeyRootKey     = "ca.key"           // its private key (PKCS#8 PEM)
	KeyTrustBundle = "trust-bundle.pem" // every root peers must trust now
	KeyNextCert    = "next.crt"         // staged root (rotation step 1)
	KeyNextKey     = "next.key"
)

// rootState is what the CA derives from the Secret.
type rootState struct {
	signer *signer
	roots  []*x509.Certificate // trust bundle, signer's root included
	// version changes whenever the Secret does.
	version string
}

// loadOrCreateRoot reads the root Secret, creating it with a fresh root on
// first start. Several replicas may race: the loser of the Create re-reads.
func loadOrCreateRoot(ctx context.Context, c client.Client, key types.NamespacedName, trustDomain string, rootTTL time.Duration) (*rootState, error) {
	for range 3 {
		var sec corev1.Secret
		err := c.Get(ctx, key, &sec)
		if err == nil {
			return parseRootSecret(&sec)
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read root secret %s: %w", key, err)
		}
		root, err := newRoot(trustDomain, rootTTL, time.Now())
		if err != nil {
			return nil, err
		}
		keyPEM, err := encodeKey(root.key)
		if err != nil {
			return nil, err
		}
		sec = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
				Labels: map[string]string{"app.kubernetes.io/part-of": "wayfabric", "app.kubernetes.io/component": "ca"}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{
				KeyRootCert:    certPEM(root.cert),
				KeyRootKey:     keyPEM,
				KeyTrustBundle: certPEM(root.cert),
			},
		}
		err = c.Create(ctx, &sec)
		if err == nil {
			return parseRootSecret(&sec)
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create root secret %s: %w", key, err)
		}
	}
	return nil, fmt.Errorf("root secret %s: gave up after repeated create/read races", key)
}

func parseRootSecret(sec *corev1.Secret) (*rootState, error) {
	s, err := decodeSigner(sec.Data[KeyRootCert], sec.Data[KeyRootKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	roots := []*x509.Certificate{s.cert}
	if b := sec.Data[KeyTrustBundle]; len(b) > 0 {
		extra, err := identity.ParseCertificatesPEM(b)
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s %s: %w", sec.Namespace, sec.Name, KeyTrustBundle, err)
		}
		for _, r := range extra {
			if !containsCert(roots, r) {
				roots = append(roots, r)
			}
		}
	}
	return &rootState{signer: s, roots: roots, version: sec.ResourceVersion}, nil
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}

func bundlePEM(roots []*x509.Certificate) []byte {
	var out []byte
	for _, r := range roots {
		out = append(out, certPEM(r)...)
	}
	return out
}

// StageRoot is rotation step 1: it generates the next root and adds it to
// the trust bundle while the current root keeps signing. Proxies learn the
// new root with their next renewal (at most half a certificate lifetime).
func StageRoot(ctx context.Context, c client.Client, key types.NamespacedName, trustDomain string, rootTTL time.Duration) error {
	return updateSecret(ctx, c, key, func(sec *corev1.Secret) error {
		if len(sec.Data[KeyNextCert]) > 0 {
			return errors.New("a root is already staged; promote it first")
		}
		cur, err := parseRootSecret(sec)
		if err != nil {
			return err
		}
		next, err := newRoot(trustDomain, rootTTL, time.Now())
		if err != nil {
			return err
		}
		keyPEM, err := encodeKey(next.key)
		if err != nil {
			return err
		}
		sec.Data[KeyNextCert] = certPEM(next.cert)
		sec.Data[KeyNextKey] = keyPEM
		sec.Data[KeyTrustBundle] = bundlePEM(append(cur.roots, next.cert))
		return nil
	})
}

// PromoteRoot is rotation step 2 (after every proxy trusts the staged
// root): the staged root starts signing; the old one stays trusted.
func PromoteRoot(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return updateSecret(ctx, c, key, func(sec *corev1.Secret) error {
		if len(sec.Data[KeyNextCert]) == 0 {
			return errors.New("no staged root to promote")
		}
		if _, err := decodeSigner(sec.Data[KeyNextCert], sec.Data[KeyNextKey]); err != nil {
			return fmt.Errorf("staged root: %w", err)
		}
		sec.Data[KeyRootCert], sec.Data[KeyRootKey] = sec.Data[KeyNextCert], sec.Data[KeyNextKey]
		delete(sec.Data, KeyNextCert)
		delete(sec.Data, KeyNextKey)
		return nil
	})
}

// RetireOldRoots is rotation step 3 (one certificate lifetime after the
// promotion, when no certificate from the old root is left): only the
// active root stays in the trust bundle.
func RetireOldRoots(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return updateSecret(ctx, c, key, func(sec *corev1.Secret) error {
		if len(sec.Data[KeyNextCert]) > 0 {
			return errors.New("a root is staged; promote it before retiring the old one")
		}
		cur, err := parseRootSecret(sec)
		if err != nil {
			return err
		}
		sec.Data[KeyTrustBundle] = certPEM(cur.signer.cert)
		return nil
	})
}

func updateSecret(ctx context.Context, c client.Client, key types.NamespacedName, mutate func(*corev1.Secret) error) error {
	var sec corev1.Secret
	if err := c.Get(ctx, key, &sec); err != nil {
		return fmt.Errorf("read root secret %s: %w", key, err)
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	if err := mutate(&sec); err != nil {
		return err
	}
	// Optimistic concurrency: a concurrent change makes this fail with a
	// conflict instead of silently losing a key.
	return c.Update(ctx, &sec)
}
