package gateway

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// requiredKinds are the Gateway API kinds the controllers watch; the
// standard-channel CRDs provide all of them.
var requiredKinds = []string{"GatewayClass", "Gateway", "HTTPRoute"}

// MissingKinds lists the required Gateway API kinds the cluster does not
// serve, so the manager can run without Gateway API support instead of
// crash-looping on a cluster where its CRDs are not installed.
func MissingKinds(mapper meta.RESTMapper) ([]string, error) {
	var missing []string
	for _, kind := range requiredKinds {
		ok, err := served(mapper, kind)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, kind)
		}
	}
	return missing, nil
}

// GRPCRoutesServed reports whether the cluster serves GRPCRoutes (GA, v1,
// from Gateway API 1.1); the standard CRDs of older releases lack them.
func GRPCRoutesServed(mapper meta.RESTMapper) (bool, error) {
	return served(mapper, kindGRPCRoute)
}

// served reports whether the cluster serves a Gateway API kind at v1.
func served(mapper meta.RESTMapper, kind string) (bool, error) {
	gk := schema.GroupKind{Group: gatewayv1.GroupName, Kind: kind}
	_, err := mapper.RESTMapping(gk, gatewayv1.GroupVersion.Version)
	switch {
	case meta.IsNoMatchError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("looking up %s: %w", gk, err)
	}
	return true, nil
}
