package main

import (
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func TestDisplayName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"replicas", "Replicas"},
		{"readyReplicas", "Ready Replicas"},
		{"topologySpreadConstraints", "Topology Spread Constraints"},
		{"p99Latency", "P99 Latency"},
		{"cpuPerReplica", "Cpu Per Replica"},
		{"trustDomainURL", "Trust Domain URL"},
		{"httpRoute", "Http Route"},
	} {
		if got := displayName(tc.in); got != tc.want {
			t.Errorf("displayName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Replicas is the count. It is scaled.", "Replicas is the count."},
		{"Spread over\nseveral  lines. More.", "Spread over several lines."},
		{"No full stop", "No full stop"},
		{"Version v0.1.0 is the default.", "Version v0.1.0 is the default."},
	} {
		if got := firstSentence(tc.in); got != tc.want {
			t.Errorf("firstSentence(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSpecXDescriptors(t *testing.T) {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	enum := apiextensionsv1.JSONSchemaProps{Type: "string", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"a"`)}, {Raw: []byte(`"b"`)}}}
	res := apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"requests": {}, "limits": {}}}
	for _, tc := range []struct {
		name string
		p    apiextensionsv1.JSONSchemaProps
		want []string
	}{
		{"replicas", apiextensionsv1.JSONSchemaProps{Type: "integer"}, []string{ui + "podCount"}},
		{"maxSurge", apiextensionsv1.JSONSchemaProps{Type: "integer"}, []string{ui + "number"}},
		{"enabled", apiextensionsv1.JSONSchemaProps{Type: "boolean"}, []string{ui + "booleanSwitch"}},
		{"resources", res, []string{ui + "resourceRequirements"}},
		{"mode", enum, []string{ui + "select:a", ui + "select:b"}},
		{"trustDomain", str, []string{ui + "text"}},
		{"tolerations", apiextensionsv1.JSONSchemaProps{Type: "array"}, []string{ui + "advanced"}},
		{"upgrade", apiextensionsv1.JSONSchemaProps{Type: "object"}, nil},
	} {
		if got := specXDescriptors(tc.name, tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("specXDescriptors(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
