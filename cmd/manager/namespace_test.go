package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// TestEnsureNamespace on a real API server: a missing operator namespace is
// created (and an existing one left alone); a manager that may read but not
// create namespaces fails with what to do instead of a later "namespace not
// found" from the CA.
func TestEnsureNamespace(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: testenv.RequireAssets(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("missing: created, then left alone", func(t *testing.T) {
		for i, want := range []bool{true, false} {
			created, err := ensureNamespace(ctx, admin, "wayfabric-system")
			if err != nil || created != want {
				t.Fatalf("call %d: created=%v err=%v, want created=%v", i+1, created, err, want)
			}
		}
		if err := admin.Get(ctx, client.ObjectKey{Name: "wayfabric-system"}, &corev1.Namespace{}); err != nil {
			t.Fatalf("namespace not there: %v", err)
		}
	})

	t.Run("missing and not allowed to create: says what to do", func(t *testing.T) {
		// The deployed manager's rights on namespaces: get, list, watch.
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "read-namespaces"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}}}}
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-namespaces"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "reader"}}}
		for _, o := range []client.Object{role, binding} {
			if err := admin.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		user, err := env.AddUser(envtest.User{Name: "reader"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		reader, err := client.New(user.Config(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// RBAC changes reach the authorizer through its informers: retry
		// until the read is allowed, then check the create is refused.
		var created bool
		deadline := time.Now().Add(30 * time.Second)
		for {
			created, err = ensureNamespace(ctx, reader, "elsewhere")
			if err == nil || strings.Contains(err.Error(), "does not exist") || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if created || err == nil || !strings.Contains(err.Error(), "kubectl create namespace elsewhere") {
			t.Fatalf("created=%v err=%v, want an error saying to create namespace elsewhere", created, err)
		}
	})
}
