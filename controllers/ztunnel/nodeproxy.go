package ztunnel

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// NodeProxyCheck tells the mesh CA which service accounts are ztunnels: the
// ones this reconciler creates, in the operator namespace, for a ZtunnelConfig
// that exists. Only they may obtain the identities of other pods on their node.
func NodeProxyCheck(r client.Reader, namespace string) func(context.Context, types.NamespacedName) (bool, error) {
	ns := namespaceOr(namespace)
	return func(ctx context.Context, sa types.NamespacedName) (bool, error) {
		if !mesh.IsNodeProxy(sa.Namespace, sa.Name, ns) {
			return false, nil
		}
		config := strings.TrimPrefix(sa.Name, mesh.NodeProxyAccountPrefix)
		var zc meshv1alpha1.ZtunnelConfig
		err := r.Get(ctx, types.NamespacedName{Name: config}, &zc)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return Name(&zc) == sa.Name, nil
	}
}
