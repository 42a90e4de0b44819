package waypoint

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// builderWithPredicates filters Waypoint updates to the ones that change
// what we build: the spec (generation), the autoscaler's replica decision or
// its recommendation. The autoscaler rewrites status.load about every second;
// those writes must not wake this reconciler.
func builderWithPredicates() builder.Predicates {
	return builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*meshv1alpha1.Waypoint)
		n, ok2 := e.ObjectNew.(*meshv1alpha1.Waypoint)
		if !ok1 || !ok2 {
			return true
		}
		return RelevantChange(o, n)
	}})
}

// RelevantChange reports whether an update from o to n needs a reconcile.
func RelevantChange(o, n *meshv1alpha1.Waypoint) bool {
	return o.Generation != n.Generation ||
		o.Status.DesiredReplicas != n.Status.DesiredReplicas ||
		!equality.Semantic.DeepEqual(o.Status.Recommendation, n.Status.Recommendation) ||
		!n.DeletionTimestamp.Equal(o.DeletionTimestamp)
}

// membershipChanged passes creations and deletions (including the start of
// a deletion) but no other update: the controllers that act on the set of
// Waypoints (reader binding, trust-bundle copies) care about nothing else.
var membershipChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
}}
