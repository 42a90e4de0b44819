package gateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// parentRefSelectsListener reports whether a Gateway parentRef's sectionName
// and port (when set) select listener l.
func parentRefSelectsListener(ref gatewayv1.ParentReference, l gatewayv1.Listener) bool {
	if ref.SectionName != nil && *ref.SectionName != "" && *ref.SectionName != l.Name {
		return false
	}
	if ref.Port != nil && *ref.Port != 0 && *ref.Port != l.Port {
		return false
	}
	return true
}

// listenerAllowsRoute applies a listener's allowedRoutes to a route of
// routeKind in routeNamespace, whose Namespace carries nsLabels. Unset
// allowedRoutes means routes from the Gateway's own namespace only, as the
// spec defaults it.
func listenerAllowsRoute(l gatewayv1.Listener, gatewayNamespace, routeKind, routeNamespace string, nsLabels map[string]string) bool {
	ar := l.AllowedRoutes
	if ar != nil && len(ar.Kinds) > 0 {
		ok := false
		for _, k := range ar.Kinds {
			ok = ok || isRouteKind(k, routeKind)
		}
		if !ok {
			return false
		}
	}
	from := gatewayv1.NamespacesFromSame
	var selector *metav1.LabelSelector
	if ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			from = *ar.Namespaces.From
		}
		selector = ar.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return routeNamespace == gatewayNamespace
	case gatewayv1.NamespacesFromSelector:
		if selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return false
		}
		return sel.Matches(labels.Set(nsLabels))
	default: // None, or a value this release does not know: allow nothing.
		return false
	}
}
