package gateway

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestMissingKinds(t *testing.T) {
	gv := schema.GroupVersion{Group: "gateway.networking.k8s.io", Version: "v1"}
	mapperWith := func(kinds ...string) meta.RESTMapper {
		m := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
		for _, k := range kinds {
			m.Add(gv.WithKind(k), meta.RESTScopeNamespace)
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		mapper meta.RESTMapper
		want   []string
	}{
		{"all installed", mapperWith("GatewayClass", "Gateway", "HTTPRoute"), nil},
		{"no Gateway API CRDs", mapperWith(), []string{"GatewayClass", "Gateway", "HTTPRoute"}},
		{"HTTPRoute missing", mapperWith("GatewayClass", "Gateway"), []string{"HTTPRoute"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MissingKinds(tc.mapper)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("MissingKinds = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
