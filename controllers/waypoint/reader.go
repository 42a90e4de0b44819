package waypoint

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/apply"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// readerKey is the single work item of the reader controller: every
// Waypoint event maps to it, so a burst of 1,000 creations collapses into
// a handful of binding updates.
var readerKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: ReaderName}}

// ReaderReconciler keeps the shared reader ClusterRole and binding in step
// with the set of Waypoints.
type ReaderReconciler struct {
	client.Client
	Recorder events.Recorder
}

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// The manager may only grant what it holds (RBAC escalation check):
// +kubebuilder:rbac:groups="",resources=services;namespaces;pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes;referencegrants,verbs=get;list;watch

// Reconcile applies the role and the binding; both are no-ops when unchanged.
func (r *ReaderReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var wps meshv1alpha1.WaypointList
	if err := r.List(ctx, &wps); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing Waypoints for the reader binding: %w", err)
	}
	a := apply.Applier{Client: r.Client, FieldOwner: FieldOwner}
	var errs []error
	for _, obj := range []client.Object{BuildReaderClusterRole(), BuildReaderClusterRoleBinding(wps.Items)} {
		outcome, err := a.Ensure(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if outcome == apply.Created {
			// Cluster-scoped and ownerless: log through the binding itself.
			events.Normal(r.Recorder, obj, events.ReasonCreated, events.ActionCreate, "Created the shared waypoint reader "+obj.GetObjectKind().GroupVersionKind().Kind)
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// SetupWithManager watches Waypoints (created or deleted) and the two objects.
func (r *ReaderReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{readerKey}
	})
	named := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == ReaderName })
	return ctrl.NewControllerManagedBy(mgr).
		Named("waypoint-reader").
		// Only creations and deletions change the subjects.
		Watches(&meshv1alpha1.Waypoint{}, toKey, builder.WithPredicates(membershipChanged)).
		Watches(&rbacv1.ClusterRole{}, toKey, builder.WithPredicates(named)).
		Watches(&rbacv1.ClusterRoleBinding{}, toKey, builder.WithPredicates(named)).
		Complete(r)
}
