package conformance

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/pkg/consts"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/wayfabric/wayfabric/controllers/gateway"
)

// declaredFeatures are Wayfabric's claims (controllers/gateway): the Mesh
// features and the route features; the suite runs every test whose
// features are all declared, and marks the others not supported.
func declaredFeatures() []features.FeatureName {
	all := slices.Concat(gateway.MeshFeatures, gateway.RouteFeatures, gateway.GRPCRouteFeatures)
	slices.Sort(all)
	return slices.Compact(all)
}

// TestDeclaredFeaturesAreKnown: every claim is a feature of the suite's
// version, so a typo or a renamed feature cannot pass silently.
func TestDeclaredFeaturesAreKnown(t *testing.T) {
	known := features.SetsToNamesSet(features.AllFeatures)
	for _, f := range declaredFeatures() {
		if !known.Has(f) {
			t.Errorf("declared feature %q is not a feature of Gateway API %s", f, consts.BundleVersion)
		}
	}
	mesh := sets.New(gateway.MeshFeatures...)
	for _, f := range gateway.SupportedFeatures(true) {
		if mesh.Has(features.FeatureName(f.Name)) {
			t.Errorf("GatewayClass feature %q is a Mesh feature; the suite drops those from GatewayClass status", f.Name)
		}
	}
}
