// Package meta holds the labels and owner references every reconciler puts
// on the objects it owns.
package meta

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wayfabric/wayfabric/api/mesh"
)

// Standard label keys and the manager's value.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelVersion   = "app.kubernetes.io/version"
	ManagedBy      = "wayfabric"
)

// ControllerRef is the owner reference of a controlled child. BlockOwnerDeletion
// makes foreground deletion of the owner wait for its children.
func ControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) metav1.OwnerReference {
	return *metav1.NewControllerRef(owner, gvk)
}

// Merge returns a new map with the keys of all maps, later ones winning.
func Merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// DefaultNamespace is the operator's namespace when its configuration names
// none (config/default uses it).
const DefaultNamespace = mesh.DefaultNamespace

// CAService is config/ca's Service after kustomize's name prefix; CAPort its port.
const (
	CAService = "wayfabric-ca"
	CAPort    = mesh.PortCA
)

// TrustBundleConfigMap is the ConfigMap (key TrustBundleKey) holding the mesh
// CA's root certificates, published by the CA (controllers/ca).
const (
	TrustBundleConfigMap = "wayfabric-trust-bundle"
	TrustBundleKey       = "root-cert.pem"
)

// OperatorNamespace returns ns, else DefaultNamespace. The process resolves
// its namespace once (cmd/manager: --namespace, $POD_NAMESPACE) and passes
// it in; nothing below cmd/ reads the environment.
func OperatorNamespace(ns string) string {
	if ns != "" {
		return ns
	}
	return DefaultNamespace
}

// CAAddress is host:port of the mesh CA seen from any namespace.
func CAAddress(operatorNamespace string) string {
	return fmt.Sprintf("%s.%s.svc:%d", CAService, operatorNamespace, CAPort)
}
