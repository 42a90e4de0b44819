package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

const ui = "urn:alm:descriptor:com.tectonic.ui:"

// setOwnedCRDs lists every CRD of the bundle as owned, keeping the display
// name, description and resources written in the CSV base, and derives spec
// and status descriptors from the storage version's OpenAPI schema.
func setOwnedCRDs(csv *v1alpha1.ClusterServiceVersion, crds []*apiextensionsv1.CustomResourceDefinition) error {
	base := map[string]v1alpha1.CRDDescription{}
	for _, d := range csv.Spec.CustomResourceDefinitions.Owned {
		base[d.Name] = d
	}
	var owned []v1alpha1.CRDDescription
	for _, crd := range crds {
		v, err := storageVersion(crd)
		if err != nil {
			return err
		}
		d := base[crd.Name]
		delete(base, crd.Name)
		d.Name, d.Kind, d.Version = crd.Name, crd.Spec.Names.Kind, v.Name
		if d.DisplayName == "" {
			d.DisplayName = crd.Spec.Names.Kind
		}
		var props map[string]apiextensionsv1.JSONSchemaProps
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			props = v.Schema.OpenAPIV3Schema.Properties
			if d.Description == "" {
				d.Description = firstSentence(v.Schema.OpenAPIV3Schema.Description)
			}
		}
		d.SpecDescriptors = specDescriptors(props["spec"])
		d.StatusDescriptors = statusDescriptors(props["status"])
		owned = append(owned, d)
	}
	if len(base) > 0 {
		return fmt.Errorf("the CSV base describes CRDs that config/default does not contain: %v", sortedKeys(base))
	}
	sort.Slice(owned, func(i, j int) bool { return owned[i].Name < owned[j].Name })
	csv.Spec.CustomResourceDefinitions.Owned = owned
	return nil
}

func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) (apiextensionsv1.CustomResourceDefinitionVersion, error) {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v, nil
		}
	}
	return apiextensionsv1.CustomResourceDefinitionVersion{}, fmt.Errorf("CRD %s has no storage version", crd.Name)
}

func specDescriptors(spec apiextensionsv1.JSONSchemaProps) []v1alpha1.SpecDescriptor {
	var out []v1alpha1.SpecDescriptor
	for _, name := range sortedKeys(spec.Properties) {
		p := spec.Properties[name]
		out = append(out, v1alpha1.SpecDescriptor{
			Path: name, DisplayName: displayName(name), Description: firstSentence(p.Description),
			XDescriptors: specXDescriptors(name, p),
		})
	}
	return out
}

func statusDescriptors(status apiextensionsv1.JSONSchemaProps) []v1alpha1.StatusDescriptor {
	var out []v1alpha1.StatusDescriptor
	for _, name := range sortedKeys(status.Properties) {
		p := status.Properties[name]
		out = append(out, v1alpha1.StatusDescriptor{
			Path: name, DisplayName: displayName(name), Description: firstSentence(p.Description),
			XDescriptors: statusXDescriptors(name, p),
		})
	}
	return out
}

// specXDescriptors picks the OLM console widget for a spec field.
func specXDescriptors(name string, p apiextensionsv1.JSONSchemaProps) []string {
	switch {
	case name == "replicas":
		return []string{ui + "podCount"}
	case name == "resources" && hasProps(p, "requests", "limits"):
		return []string{ui + "resourceRequirements"}
	case name == "tolerations" || name == "topologySpreadConstraints" || name == "nodeSelector":
		return []string{ui + "advanced"}
	case name == "image":
		return []string{ui + "text", ui + "advanced"}
	case p.Type == "boolean":
		return []string{ui + "booleanSwitch"}
	case p.Type == "integer" || p.Type == "number":
		return []string{ui + "number"}
	case p.Type == "string" && len(p.Enum) > 0:
		var out []string
		for _, e := range p.Enum {
			out = append(out, ui+"select:"+strings.Trim(string(e.Raw), `"`))
		}
		return out
	case p.Type == "string":
		return []string{ui + "text"}
	}
	return nil
}

// statusXDescriptors picks the OLM console widget for a status field.
func statusXDescriptors(name string, p apiextensionsv1.JSONSchemaProps) []string {
	switch {
	case name == "conditions":
		return []string{"urn:alm:descriptor:io.kubernetes.conditions"}
	case strings.HasSuffix(strings.ToLower(name), "replicas") && p.Type == "integer":
		return []string{ui + "podCount"}
	case p.Type == "string" || p.Type == "integer" || p.Type == "number" || p.Type == "boolean":
		return []string{"urn:alm:descriptor:text"}
	}
	return nil
}

func hasProps(p apiextensionsv1.JSONSchemaProps, names ...string) bool {
	for _, n := range names {
		if _, ok := p.Properties[n]; !ok {
			return false
		}
	}
	return true
}

// displayName turns a JSON field name into words: "readyReplicas" -> "Ready Replicas".
func displayName(field string) string {
	var b strings.Builder
	runes := []rune(field)
	for i, r := range runes {
		if i == 0 {
			b.WriteRune(unicode.ToUpper(r))
			continue
		}
		prevLower := unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1])
		nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
		if unicode.IsUpper(r) && (prevLower || (nextLower && unicode.IsUpper(runes[i-1]))) {
			b.WriteRune(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// firstSentence keeps descriptions short in the console: the first sentence,
// on one line.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
