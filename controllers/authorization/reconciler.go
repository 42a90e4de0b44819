// Package authorization writes AuthorizationPolicy status: whether the policy
// is accepted (it compiles, its targets exist), and which data plane enforces
// it (the waypoints of its targets, or the destination ztunnels). The data
// planes compile policies themselves, with proxy/authz, the same compiler
// this controller uses to report errors.
package authorization

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
	Recorder record.EventRecorder
	// RootNamespace is the operator's namespace: policies there without
	// targetRefs apply mesh-wide.
	RootNamespace string
	// Now is the clock for condition transition times (nil: time.Now).
	Now func() time.Time
}

// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=authorizationpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=authorizationpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=services;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one policy's status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p meshv1alpha1.AuthorizationPolicy
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	targets, err := r.resolveTargets(ctx, &p)
	if err != nil {
		return ctrl.Result{}, err
	}
	f := Facts{
		Generation: p.Generation, Compiled: authz.CompilePolicy(&p), Targets: targets,
		Root: p.Namespace == r.RootNamespace, Selector: p.Spec.Selector != nil,
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	want := ComputeStatus(p.Status.Conditions, f, metav1.NewTime(now()))
	if StatusUpToDate(p.Status, want) {
		return ctrl.Result{}, nil
	}
	if err := r.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(statusApply(&p, want)),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		err = fmt.Errorf("writing status of AuthorizationPolicy %s: %w", req.NamespacedName, err)
		events.Failed(r.Recorder, &p, events.ReasonStatusFailed, err)
		return ctrl.Result{}, err
	}
	r.announce(&p, want)
	return ctrl.Result{}, nil
}

// announce records an event when Accepted changes status or reason.
func (r *Reconciler) announce(p *meshv1alpha1.AuthorizationPolicy, st meshv1alpha1.AuthorizationPolicyStatus) {
	c := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionAccepted)
	if old := meta.FindStatusCondition(p.Status.Conditions, meshv1alpha1.ConditionAccepted); c == nil ||
		(old != nil && old.Status == c.Status && old.Reason == c.Reason) {
		return
	}
	if c.Status == metav1.ConditionTrue {
		events.Normal(r.Recorder, p, c.Reason, c.Message)
	} else {
		events.Warning(r.Recorder, p, c.Reason, c.Message)
	}
}

func statusApply(p *meshv1alpha1.AuthorizationPolicy, st meshv1alpha1.AuthorizationPolicyStatus) *unstructured.Unstructured {
	conds := make([]any, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, conditions.ToApply(c))
	}
	waypoints := make([]any, 0, len(st.Waypoints))
	for _, w := range st.Waypoints {
		waypoints = append(waypoints, w)
	}
	status := map[string]any{
		"observedGeneration": st.ObservedGeneration,
		"enforcedBy":         string(st.EnforcedBy),
		"conditions":         conds,
	}
	if len(waypoints) > 0 {
		status["waypoints"] = waypoints
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"name": p.Name, "namespace": p.Namespace},
		"status":   status,
	}}
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
