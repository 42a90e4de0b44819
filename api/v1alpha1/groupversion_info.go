// Package v1alpha1 contains the Wayfabric mesh API: Waypoint (a fleet of remote
// L7 proxies) and ZtunnelConfig (the per-node L4 proxies).
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +kubebuilder:ac:output:package=../applyconfiguration
// +groupName=mesh.wayfabric.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every object in this package.
	GroupVersion = schema.GroupVersion{Group: "mesh.wayfabric.io", Version: "v1alpha1"}

	// SchemeGroupVersion is GroupVersion under the name generated code
	// (api/applyconfiguration) expects.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // kubebuilder's layout; the generated files register through it

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
