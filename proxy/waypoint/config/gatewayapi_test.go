package config

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestMissingGatewayKinds(t *testing.T) {
	routesV1 := &metav1.APIResourceList{GroupVersion: "gateway.networking.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "httproutes"}, {Name: "gateways"}}}
	grantsV1 := &metav1.APIResourceList{GroupVersion: "gateway.networking.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "httproutes"}, {Name: "referencegrants"}}}
	grantsV1beta1 := &metav1.APIResourceList{GroupVersion: "gateway.networking.k8s.io/v1beta1", APIResources: []metav1.APIResource{{Name: "referencegrants"}}}
	for _, tc := range []struct {
		name   string
		served []*metav1.APIResourceList
		want   []string
	}{
		{"no Gateway API", nil, []string{"httproutes.gateway.networking.k8s.io/v1", "referencegrants.gateway.networking.k8s.io/v1beta1"}},
		{"grants at v1 only are not enough (read at v1beta1, as every release serves them)", []*metav1.APIResourceList{grantsV1}, []string{"referencegrants.gateway.networking.k8s.io/v1beta1"}},
		{"Gateway API before 1.5: routes v1, grants v1beta1", []*metav1.APIResourceList{routesV1, grantsV1beta1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset()
			kube.Resources = tc.served
			got, err := missingGatewayKinds(kube.Discovery())
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("missingGatewayKinds = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
