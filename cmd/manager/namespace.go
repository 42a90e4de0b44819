package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ensureNamespace makes sure the operator's namespace exists before anything
// writes to it (the CA's root Secret, the ztunnels). Deployed, the manager
// runs in it; run from source against a bare cluster, it creates it; where
// it may not, the error says what to do. created reports a creation.
func ensureNamespace(ctx context.Context, c client.Client, name string) (created bool, err error) {
	err = c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading the operator namespace %q: %w", name, err)
	}
	err = c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsAlreadyExists(err):
		return false, nil
	case apierrors.IsForbidden(err):
		return false, fmt.Errorf("the operator namespace %q does not exist and the manager may not create it: "+
			"create it (kubectl create namespace %s) or pass --namespace: %w", name, name, err)
	}
	return false, fmt.Errorf("creating the operator namespace %q: %w", name, err)
}
