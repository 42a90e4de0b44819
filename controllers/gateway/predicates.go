package gateway

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// Waypoint status is rewritten about every second with observed load; these
// predicates keep that churn from re-running the Gateway API reconcilers.

// waypointMattersToGateway passes Waypoint updates that change what a
// Gateway reports: ownership, spec, or the Ready condition.
var waypointMattersToGateway = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*meshv1alpha1.Waypoint)
	n, ok2 := e.ObjectNew.(*meshv1alpha1.Waypoint)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation || ownersChanged(e) ||
		!equality.Semantic.DeepEqual(meta.FindStatusCondition(o.Status.Conditions, meshv1alpha1.ConditionReady),
			meta.FindStatusCondition(n.Status.Conditions, meshv1alpha1.ConditionReady))
}}

// waypointMattersToRoutes passes Waypoint creation, deletion, spec and
// ownership changes: route acceptance depends on nothing in its status.
var waypointMattersToRoutes = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() || ownersChanged(e)
}}

func ownersChanged(e event.UpdateEvent) bool {
	return !equality.Semantic.DeepEqual(e.ObjectOld.GetOwnerReferences(), e.ObjectNew.GetOwnerReferences())
}
