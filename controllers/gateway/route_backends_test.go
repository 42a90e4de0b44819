package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

func TestRouteResolvedRefs(t *testing.T) {
	ok := backendFacts{Ref: "Service ns/a", SupportedKind: true, Found: true}
	missing := backendFacts{Ref: "Service ns/b", SupportedKind: true}
	badKind := backendFacts{Ref: "Bucket.s3 ns/c"}
	denied := backendFacts{Ref: "Service other/d", SupportedKind: true, CrossNamespace: true}
	granted := backendFacts{Ref: "Service other/e", SupportedKind: true, CrossNamespace: true, Permitted: true, Found: true}
	for name, tc := range map[string]struct {
		b    []backendFacts
		want want
	}{
		"no backends":            {nil, want{metav1.ConditionTrue, "ResolvedRefs"}},
		"all found":              {[]backendFacts{ok, granted}, want{metav1.ConditionTrue, "ResolvedRefs"}},
		"missing":                {[]backendFacts{ok, missing}, want{metav1.ConditionFalse, "BackendNotFound"}},
		"bad kind":               {[]backendFacts{badKind}, want{metav1.ConditionFalse, "InvalidKind"}},
		"cross-namespace denied": {[]backendFacts{denied}, want{metav1.ConditionFalse, "RefNotPermitted"}},
		"denied first":           {[]backendFacts{missing, badKind, denied}, want{metav1.ConditionFalse, "RefNotPermitted"}},
	} {
		check(t, name, routeResolvedRefs(tc.b, 3), tc.want, 3)
	}
	c := routeResolvedRefs([]backendFacts{missing, badKind, denied}, 3)
	for _, ref := range []string{"ns/b", "ns/c", "other/d"} {
		if !contains(c.Message, ref) {
			t.Errorf("message %q does not name %s", c.Message, ref)
		}
	}
}

func TestGrantAllows(t *testing.T) {
	grant := func(fromNs, fromKind string, toName *gatewayv1.ObjectName) gatewayv1beta1.ReferenceGrant {
		return gatewayv1beta1.ReferenceGrant{Spec: gatewayv1beta1.ReferenceGrantSpec{
			From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: gatewayv1.Kind(fromKind), Namespace: gatewayv1.Namespace(fromNs)}},
			To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service", Name: toName}},
		}}
	}
	name := gatewayv1.ObjectName("ratings")
	other := gatewayv1.ObjectName("reviews")
	for desc, tc := range map[string]struct {
		grants []gatewayv1beta1.ReferenceGrant
		allow  bool
	}{
		"no grant":             {nil, false},
		"any Service":          {[]gatewayv1beta1.ReferenceGrant{grant("app", "HTTPRoute", nil)}, true},
		"that Service":         {[]gatewayv1beta1.ReferenceGrant{grant("app", "HTTPRoute", &name)}, true},
		"another Service":      {[]gatewayv1beta1.ReferenceGrant{grant("app", "HTTPRoute", &other)}, false},
		"other namespace":      {[]gatewayv1beta1.ReferenceGrant{grant("web", "HTTPRoute", nil)}, false},
		"other route kind":     {[]gatewayv1beta1.ReferenceGrant{grant("app", "GRPCRoute", nil)}, false},
		"second grant matches": {[]gatewayv1beta1.ReferenceGrant{grant("web", "HTTPRoute", nil), grant("app", "HTTPRoute", nil)}, true},
	} {
		if got := grantAllows(tc.grants, "app", "HTTPRoute", "", "Service", "ratings"); got != tc.allow {
			t.Errorf("%s: got %v, want %v", desc, got, tc.allow)
		}
	}
	if !grantAllows([]gatewayv1beta1.ReferenceGrant{grant("app", "GRPCRoute", nil)}, "app", "GRPCRoute", "", "Service", "ratings") {
		t.Error("a grant from GRPCRoutes must allow a GRPCRoute's reference")
	}
}
