package gateway

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// backendFacts describe one backendRef of a route (rules and RequestMirror
// filters alike).
type backendFacts struct {
	// Ref names the backend for messages, e.g. `Service other/ratings`.
	Ref string
	// SupportedKind: only core Services are backends of a waypoint.
	SupportedKind bool
	// CrossNamespace backends need a ReferenceGrant in their namespace
	// (false for a consumer route's, which need none).
	CrossNamespace bool
	Permitted      bool
	Found          bool
}

// routeResolvedRefs is a route's ResolvedRefs condition. Every problem
// is listed in the message; the reason follows the spec's order.
func routeResolvedRefs(backends []backendFacts, generation int64) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.RouteConditionResolvedRefs), ObservedGeneration: generation}
	var notPermitted, badKind, notFound []string
	for _, b := range backends {
		switch {
		case !b.SupportedKind:
			badKind = append(badKind, b.Ref+" is not a supported backend kind (only core Service)")
		case b.CrossNamespace && !b.Permitted:
			notPermitted = append(notPermitted, b.Ref+" is in another namespace and no ReferenceGrant there allows it")
		case !b.Found:
			notFound = append(notFound, b.Ref+" does not exist")
		}
	}
	switch {
	case len(notPermitted) > 0:
		c.Reason = string(gatewayv1.RouteReasonRefNotPermitted)
	case len(badKind) > 0:
		c.Reason = string(gatewayv1.RouteReasonInvalidKind)
	case len(notFound) > 0:
		c.Reason = string(gatewayv1.RouteReasonBackendNotFound)
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gatewayv1.RouteReasonResolvedRefs), "all references resolved"
		return c
	}
	c.Status = metav1.ConditionFalse
	c.Message = strings.Join(append(append(notPermitted, badKind...), notFound...), "; ")
	return c
}

// grantAllows reports whether one of grants (all in the target's namespace)
// lets routes of fromKind in fromNamespace refer to the object group/kind/name.
func grantAllows(grants []gatewayv1beta1.ReferenceGrant, fromNamespace, fromKind, group, kind, name string) bool {
	for _, g := range grants {
		from := false
		for _, f := range g.Spec.From {
			from = from || (string(f.Group) == gatewayv1.GroupName && string(f.Kind) == fromKind && string(f.Namespace) == fromNamespace)
		}
		if !from {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == group && string(t.Kind) == kind && (t.Name == nil || *t.Name == "" || string(*t.Name) == name) {
				return true
			}
		}
	}
	return false
}

// backendRefs lists every backend an HTTPRoute sends traffic to, including
// RequestMirror targets on rules and on backendRefs.
func backendRefs(spec *gatewayv1.HTTPRouteSpec) []gatewayv1.BackendObjectReference {
	var out []gatewayv1.BackendObjectReference
	mirrors := func(filters []gatewayv1.HTTPRouteFilter) {
		for _, f := range filters {
			if f.RequestMirror != nil {
				out = append(out, f.RequestMirror.BackendRef)
			}
		}
	}
	for _, rule := range spec.Rules {
		mirrors(rule.Filters)
		for _, b := range rule.BackendRefs {
			out = append(out, b.BackendObjectReference)
			mirrors(b.Filters)
		}
	}
	return out
}

// backendTarget resolves a backendRef's defaults: core group, kind Service,
// the route's namespace.
func backendTarget(ref gatewayv1.BackendObjectReference, routeNamespace string) (group, kind, namespace, name string) {
	group, kind, namespace = "", kindService, routeNamespace
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if ref.Namespace != nil && *ref.Namespace != "" {
		namespace = string(*ref.Namespace)
	}
	return group, kind, namespace, string(ref.Name)
}

func describe(group, kind, namespace, name string) string {
	if group != "" {
		kind = kind + "." + group
	}
	return fmt.Sprintf("%s %s/%s", kind, namespace, name)
}
