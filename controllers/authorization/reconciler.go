// Package authorization writes AuthorizationPolicy status: whether the policy
// is accepted (it compiles, its targets exist), and which data plane enforces
// it (the waypoints of its targets, or the destination ztunnels). The data
// planes compile policies themselves, with proxy/authz, the same compiler
// this controller uses to report errors.
package authorization

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshac "github.com/wayfabric/wayfabric/api/applyconfiguration/api/v1alpha1"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

// FieldOwner is the server-side-apply field manager of the status.
const FieldOwner = "wayfabric-authorization"

// Reconciler computes and writes one AuthorizationPolicy's status.
type Reconciler struct {
	client.Client
	Recorder events.Recorder
	// RootNamespace is the operator's namespace: policies there without
	// targetRefs apply mesh-wide.
	RootNamespace string
}

// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=authorizationpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=authorizationpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=services;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one policy's status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p meshv1alpha1.AuthorizationPolicy
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	// The status is written on every way out: a target that cannot be read
	// shows as Accepted Unknown (ReadFailed), not only in the log.
	targets, err := r.resolveTargets(ctx, &p)
	f := Facts{
		Generation: p.Generation, Compiled: authz.CompilePolicy(&p), Targets: targets, ReadErr: err,
		Root: p.Namespace == r.RootNamespace, Selector: p.Spec.Selector != nil,
	}
	return ctrl.Result{}, errors.Join(err, r.writeStatus(ctx, &p, ComputeStatus(p.Status, f, metav1.Now())))
}

// writeStatus applies want when the policy does not show it yet, and
// announces a change of Accepted.
func (r *Reconciler) writeStatus(ctx context.Context, p *meshv1alpha1.AuthorizationPolicy, want meshv1alpha1.AuthorizationPolicyStatus) error {
	if StatusUpToDate(p.Status, want) {
		return nil
	}
	if err := r.Status().Apply(ctx, statusApply(p, want), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		err = fmt.Errorf("writing status of AuthorizationPolicy %s/%s: %w", p.Namespace, p.Name, err)
		events.Failed(r.Recorder, p, events.ReasonStatusFailed, err)
		return err
	}
	r.announce(p, want)
	return nil
}

// announce records an event when Accepted changes status or reason.
func (r *Reconciler) announce(p *meshv1alpha1.AuthorizationPolicy, st meshv1alpha1.AuthorizationPolicyStatus) {
	c := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionAccepted)
	if old := meta.FindStatusCondition(p.Status.Conditions, meshv1alpha1.ConditionAccepted); c == nil ||
		(old != nil && old.Status == c.Status && old.Reason == c.Reason) {
		return
	}
	if c.Status == metav1.ConditionTrue {
		events.Normal(r.Recorder, p, c.Reason, events.ActionReconcile, c.Message)
	} else {
		events.Warning(r.Recorder, p, c.Reason, events.ActionReconcile, c.Message)
	}
}

// statusApply is the server-side apply of the whole status (this reconciler
// owns all of it).
func statusApply(p *meshv1alpha1.AuthorizationPolicy, st meshv1alpha1.AuthorizationPolicyStatus) *meshac.AuthorizationPolicyApplyConfiguration {
	return meshac.AuthorizationPolicy(p.Name, p.Namespace).WithStatus(meshac.AuthorizationPolicyStatus().
		WithObservedGeneration(st.ObservedGeneration).
		WithEnforcedBy(st.EnforcedBy).
		WithWaypoints(st.Waypoints...).
		WithConditions(conditions.ToApply(st.Conditions...)...))
}

// SetupWithManager watches policies and what their status depends on:
// Services and Namespaces (use-waypoint labels) and Waypoints (existence and
// spec.for), mapping each change to the policies of that namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	inNamespace := func(ns func(client.Object) string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var list meshv1alpha1.AuthorizationPolicyList
			if err := r.List(ctx, &list, client.InNamespace(ns(o))); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "listing AuthorizationPolicies", "namespace", ns(o))
				return nil
			}
			out := make([]reconcile.Request, 0, len(list.Items))
			for i := range list.Items {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
			return out
		})
	}
	// Waypoint status changes about every second (load reports); only its
	// existence, spec and labels matter here.
	waypointChanged := predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		For(&meshv1alpha1.AuthorizationPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Service{}, inNamespace(client.Object.GetNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&corev1.Namespace{}, inNamespace(client.Object.GetName), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&meshv1alpha1.Waypoint{}, inNamespace(client.Object.GetNamespace), builder.WithPredicates(waypointChanged)).
		Named("authorizationpolicy").
		Complete(r)
}
