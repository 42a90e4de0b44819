package authz

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// PolicyResource is the API the data planes watch policies through.
var PolicyResource = meshv1alpha1.GroupVersion.WithResource("authorizationpolicies")

// TypedPolicy is an informer transform for a dynamic informer of
// PolicyResource: it converts once per event, not once per compile, and
// keeps only what Compile reads (status churn costs nothing but the event).
func TypedPolicy(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil // tombstones pass through
	}
	p := &meshv1alpha1.AuthorizationPolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p); err != nil {
		return nil, fmt.Errorf("AuthorizationPolicy %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	p.ManagedFields, p.Status = nil, meshv1alpha1.AuthorizationPolicyStatus{}
	return p, nil
}
