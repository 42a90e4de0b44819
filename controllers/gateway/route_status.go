package gateway

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
)

// mergeRouteParents computes a route's new status.parents from the current
// list and the entries this controller wants. Entries of other controllers
// are kept untouched and in order; ours are replaced by want (merged per
// condition type so LastTransitionTime only moves on a real change); our
// entries for parents we no longer handle are dropped, as the spec asks.
func mergeRouteParents(current, want []gatewayv1.RouteParentStatus, now metav1.Time) []gatewayv1.RouteParentStatus {
	out := make([]gatewayv1.RouteParentStatus, 0, len(current)+len(want))
	var ours []gatewayv1.RouteParentStatus
	for _, p := range current {
		if p.ControllerName == ControllerName {
			ours = append(ours, p)
		} else {
			out = append(out, p)
		}
	}
	for _, w := range want {
		var conds []metav1.Condition
		for _, old := range ours {
			if equality.Semantic.DeepEqual(old.ParentRef, w.ParentRef) {
				conds = append(conds, old.Conditions...)
				break
			}
		}
		for _, c := range w.Conditions {
			conditions.Set(&conds, c, now)
		}
		out = append(out, gatewayv1.RouteParentStatus{ParentRef: w.ParentRef, ControllerName: ControllerName, Conditions: conds})
	}
	return out
}
