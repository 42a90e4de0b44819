package ztunnel

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/scheme"
)

func TestNodeProxyCheck(t *testing.T) {
	r := fake.NewClientBuilder().WithScheme(scheme.New()).
		WithObjects(&meshv1alpha1.ZtunnelConfig{ObjectMeta: metav1.ObjectMeta{Name: "default"}}).Build()
	check := NodeProxyCheck(r, "wayfabric-system")
	for _, tc := range []struct {
		sa   types.NamespacedName
		want bool
	}{
		{types.NamespacedName{Namespace: "wayfabric-system", Name: "ztunnel-default"}, true},
		{types.NamespacedName{Namespace: "wayfabric-system", Name: "ztunnel-missing"}, false},
		{types.NamespacedName{Namespace: "default", Name: "ztunnel-default"}, false},
		{types.NamespacedName{Namespace: "wayfabric-system", Name: "ztunnel-"}, false},
		{types.NamespacedName{Namespace: "wayfabric-system", Name: "waypoint"}, false},
		{types.NamespacedName{Namespace: "wayfabric-system", Name: "ztunnel"}, false}, // no ZtunnelConfig makes this account
	} {
		got, err := check(context.Background(), tc.sa)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.sa, got, err, tc.want)
		}
	}
}
