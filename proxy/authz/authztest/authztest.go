// Package authztest builds AuthorizationPolicies for tests from their spec
// in YAML, as users write them.
package authztest

import (
	"testing"

	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// Policy parses spec (YAML, strict) into a policy namespace/name.
func Policy(t testing.TB, namespace, name, spec string) *meshv1alpha1.AuthorizationPolicy {
	t.Helper()
	p := &meshv1alpha1.AuthorizationPolicy{}
	p.Namespace, p.Name = namespace, name
	if err := yaml.UnmarshalStrict([]byte(spec), &p.Spec); err != nil {
		t.Fatalf("policy %s/%s: %v", namespace, name, err)
	}
	return p
}
