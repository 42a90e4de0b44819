package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

var fileScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme, gwv1.Install, meshv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// LoadFile reads Kubernetes manifests (multi-document YAML or JSON:
// Namespaces, Services, EndpointSlices, Pods, HTTPRoutes, GRPCRoutes,
// ReferenceGrants, AuthorizationPolicies)
// into a routing input: a static configuration for benchmarks, tests and
// running without an API server. Unknown kinds are an error.
func LoadFile(path string, wp routing.Waypoint) (routing.Input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return routing.Input{}, err
	}
	return Parse(data, wp)
}

// Parse is LoadFile on bytes.
func Parse(data []byte, wp routing.Waypoint) (routing.Input, error) {
	in := routing.Input{Waypoint: wp, PodServiceAccounts: map[types.NamespacedName]string{}}
	dec := serializer.NewCodecFactory(fileScheme).UniversalDeserializer()
	docs := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 0; ; i++ {
		var raw runtime.RawExtension
		if err := docs.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return in, nil
			}
			return in, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(raw.Raw)) == 0 || string(bytes.TrimSpace(raw.Raw)) == "null" {
			continue
		}
		obj, gvk, err := dec.Decode(raw.Raw, nil, nil)
		if err != nil {
			return in, fmt.Errorf("document %d: %w", i, err)
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			in.Namespaces = append(in.Namespaces, o)
		case *corev1.Service:
			in.Services = append(in.Services, o)
		case *discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, o)
		case *corev1.Pod:
			in.PodServiceAccounts[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}] = o.Spec.ServiceAccountName
			in.Workloads = append(in.Workloads, workloadOf(o))
		case *gwv1.HTTPRoute:
			in.HTTPRoutes = append(in.HTTPRoutes, o)
		case *gwv1.GRPCRoute:
			in.GRPCRoutes = append(in.GRPCRoutes, o)
		case *gwv1.ReferenceGrant:
			in.ReferenceGrants = append(in.ReferenceGrants, o)
		case *meshv1alpha1.AuthorizationPolicy:
			in.AuthorizationPolicies = append(in.AuthorizationPolicies, o)
		default:
			return in, fmt.Errorf("document %d: unsupported kind %s", i, gvk.Kind)
		}
	}
}
