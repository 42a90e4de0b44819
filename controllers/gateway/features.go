package gateway

import (
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// The Gateway API features Wayfabric claims (GEP-2162). They are the claims
// of the conformance report in conformance/reports/: the conformance test
// (test/conformance) declares exactly these lists, so a claim the waypoint
// does not honour fails there.

// RouteFeatures are the route features a waypoint implements, whether the
// route's parent is a Service (GAMMA), a Waypoint or a Gateway of our class.
// Not claimed: HTTPRouteBackendProtocolWebSocket (a kubernetes.io/ws port is
// passed through as L4, its routes are not applied), HTTPRouteDestinationPortMatching,
// HTTPRouteExternalAuth, session persistence.
var RouteFeatures = []features.FeatureName{
	features.SupportHTTPRoute,
	features.SupportHTTPRoute303RedirectStatusCode,
	features.SupportHTTPRoute307RedirectStatusCode,
	features.SupportHTTPRoute308RedirectStatusCode,
	features.SupportHTTPRouteBackendProtocolH2C,
	features.SupportHTTPRouteBackendRequestHeaderModification,
	features.SupportHTTPRouteBackendTimeout,
	features.SupportHTTPRouteCORS,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteRequestMirror,
	features.SupportHTTPRouteRequestMultipleMirrors,
	features.SupportHTTPRouteRequestPercentageMirror,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRouteRetry,
	features.SupportHTTPRouteRetryBackendTimeout,
	features.SupportHTTPRouteRetryConnectionError,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportReferenceGrant,
}

// GRPCRouteFeatures are claimed when the cluster serves GRPCRoutes.
var GRPCRouteFeatures = []features.FeatureName{
	features.SupportGRPCRoute,
	features.SupportGRPCRouteNamedRouteRule,
}

// MeshFeatures are the Mesh profile features (GAMMA). The conformance suite
// keeps them out of GatewayClass status (they belong to a mesh, not a
// class), so they are declared by the conformance test and listed in the
// report only.
var MeshFeatures = []features.FeatureName{
	features.SupportMesh,
	features.SupportMeshClusterIPMatching,
	features.SupportMeshConsumerRoute,
	features.SupportMeshHTTPRouteBackendRequestHeaderModification,
	features.SupportMeshHTTPRouteNamedRouteRule,
	features.SupportMeshHTTPRouteQueryParamMatching,
	features.SupportMeshHTTPRouteRedirectPath,
	features.SupportMeshHTTPRouteRedirectPort,
	features.SupportMeshHTTPRouteRewritePath,
	features.SupportMeshHTTPRouteSchemeRedirect,
}

// SupportedFeatures is GatewayClass status.supportedFeatures: the route
// features, sorted by name as the API requires. "Gateway" itself is not
// claimed: a waypoint Gateway has one HBONE listener, not the HTTP
// listeners and external addresses the Gateway profiles test.
func SupportedFeatures(grpc bool) []gatewayv1.SupportedFeature {
	names := slices.Clone(RouteFeatures)
	if grpc {
		names = append(names, GRPCRouteFeatures...)
	}
	slices.Sort(names)
	out := make([]gatewayv1.SupportedFeature, len(names))
	for i, n := range names {
		out[i] = gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(n)}
	}
	return out
}
