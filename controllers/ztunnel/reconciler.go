// Package ztunnel reconciles ZtunnelConfig objects into node ztunnels: per
// config a ServiceAccount, ClusterRole and binding, ConfigMap and DaemonSet,
// unless its node selector overlaps an older config's.
package ztunnel

import (
	"time"

	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/apply"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// Reconciler turns a ZtunnelConfig into a ServiceAccount, ClusterRole,
// ClusterRoleBinding, ConfigMap and DaemonSet.
type Reconciler struct {
	client.Client
	Recorder events.Recorder
	// Image is the default image repository (RELATED_IMAGE_ZTUNNEL).
	Image string
	// DefaultVersion is the tag when spec.version is empty.
	DefaultVersion string
	// Namespace is the operator's, where the ztunnels run; empty means
	// DefaultNamespace.
	Namespace string
	// NodeStatus reads each ready ztunnel's status endpoint (captured pods);
	// SetupWithManager defaults it to NewHTTPNodeStatus.
	NodeStatus NodeStatusSource
	// StatusRefresh is how often an active config is reconciled without an
	// event (0: DefaultStatusRefresh).
	StatusRefresh time.Duration
}

// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=ztunnelconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=ztunnelconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=ztunnelconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts;configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The manager may only grant what it holds itself (RBAC escalation check),
// so it holds ZtunnelRules:
// +kubebuilder:rbac:groups="",resources=pods;namespaces;services,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get

// Reconcile brings one ZtunnelConfig's children and status to their desired
// state. An active config is reconciled again after StatusRefresh, so the
// captured-pod count stays fresh.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, err error) {
	var zc meshv1alpha1.ZtunnelConfig
	if err := r.Get(ctx, req.NamespacedName, &zc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !zc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // owner references let the garbage collector remove the children
	}
	log.FromContext(ctx).V(1).Info("reconciling ztunnelconfig", "generation", zc.Generation)

	// The status is written on every way out (cluster-api's deferred
	// patch), so a failed step shows in Degraded, not only in the log.
	s := Situation{Generation: zc.Generation, Version: Version(&zc, r.DefaultVersion)}
	defer func() { s.Err = err; err = errors.Join(err, r.writeStatus(ctx, &zc, s)) }()

	var all meshv1alpha1.ZtunnelConfigList
	if err := r.List(ctx, &all); err != nil {
		s.Unread = true
		return ctrl.Result{}, fmt.Errorf("listing ZtunnelConfigs to check for overlapping node selectors: %w", err)
	}
	s.BlockedBy = Arbitrate(all.Items)[zc.Name]
	ns := namespaceOr(r.Namespace)

	if s.BlockedBy != "" {
		if old := meta.FindStatusCondition(zc.Status.Conditions, meshv1alpha1.ConditionDegraded); old == nil || old.Reason != ReasonOverlap {
			events.Warning(r.Recorder, &zc, events.ReasonConflict, events.ActionReconcile, OverlapMessage(s.BlockedBy))
		}
		return ctrl.Result{}, r.removeChildren(ctx, &zc, ns)
	}
	if s.DaemonSet, err = r.daemonSet(ctx, &zc, ns); err != nil {
		s.Unread = true
		return ctrl.Result{}, err
	}
	applied, err := r.applyChildren(ctx, &zc, ns)
	if applied != nil {
		s.DaemonSet = applied // fresher than the cache
	}
	if oerr := r.observe(ctx, &zc, ns, &s); oerr != nil {
		s.Unread = true
		return ctrl.Result{}, errors.Join(err, oerr)
	}
	return ctrl.Result{RequeueAfter: r.refresh()}, err
}

// writeStatus applies the status when it differs from what the config shows.
func (r *Reconciler) writeStatus(ctx context.Context, zc *meshv1alpha1.ZtunnelConfig, s Situation) error {
	st := ComputeStatus(zc, s, metav1.Now())
	if StatusUpToDate(zc.Status, st) {
		return nil
	}
	warnPodFailures(r.Recorder, zc, st)
	if err := r.Status().Apply(ctx, statusApply(zc, st), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		err = fmt.Errorf("writing status of ZtunnelConfig %s: %w", zc.Name, err)
		events.Failed(r.Recorder, zc, events.ReasonStatusFailed, err)
		return err
	}
	return nil
}

func (r *Reconciler) daemonSet(ctx context.Context, zc *meshv1alpha1.ZtunnelConfig, ns string) (*appsv1.DaemonSet, error) {
	var d appsv1.DaemonSet
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: Name(zc)}, &d); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading DaemonSet %s/%s: %w", ns, Name(zc), err)
	}
	return &d, nil
}

// children are built in dependency order: identity and permissions and
// configuration before the pods that need them.
func (r *Reconciler) children(zc *meshv1alpha1.ZtunnelConfig, ns string) ([]client.Object, error) {
	cm, err := BuildConfigMap(zc, ns)
	if err != nil {
		return nil, err
	}
	return []client.Object{
		BuildServiceAccount(zc, ns),
		BuildClusterRole(zc),
		BuildClusterRoleBinding(zc, ns),
		cm,
		BuildDaemonSet(zc, DaemonSetInput{Namespace: ns, ImageRepo: r.Image, DefaultVersion: r.DefaultVersion}),
	}, nil
}

// applyChildren ensures every child, continuing past failures; it returns
// the live DaemonSet when that one was ensured.
func (r *Reconciler) applyChildren(ctx context.Context, zc *meshv1alpha1.ZtunnelConfig, ns string) (*appsv1.DaemonSet, error) {
	objs, err := r.children(zc, ns)
	if err != nil {
		events.Failed(r.Recorder, zc, events.ReasonApplyFailed, err)
		return nil, err
	}
	var ds *appsv1.DaemonSet
	a := apply.Applier{Client: r.Client, FieldOwner: FieldOwner}
	var (
		errs   []error
		writes []events.Write
	)
	for _, obj := range objs {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		outcome, err := a.Ensure(ctx, obj)
		if err != nil {
			events.Failed(r.Recorder, zc, events.ReasonApplyFailed, err)
			errs = append(errs, err)
			continue
		}
		if d, ok := obj.(*appsv1.DaemonSet); ok {
			ds = d
		}
		writes = append(writes, events.Write{Kind: kind, Name: obj.GetName(), Outcome: outcome})
	}
	events.Applied(r.Recorder, zc, writes)
	return ds, errors.Join(errs...)
}

// removeChildren deletes what a now-blocked config had deployed, so two
// ztunnels never compete for the same node. Only objects this config
// controls are touched; absent ones cost no API call.
func (r *Reconciler) removeChildren(ctx context.Context, zc *meshv1alpha1.ZtunnelConfig, ns string) error {
	objs, err := r.children(zc, ns)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(objs) - 1; i >= 0; i-- { // pods first, their permissions last
		want := objs[i]
		live := want.DeepCopyObject().(client.Object)
		if err := r.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		if !metav1.IsControlledBy(live, zc) {
			continue
		}
		kind := want.GetObjectKind().GroupVersionKind().Kind
		if err := r.Delete(ctx, live, client.Preconditions{UID: new(live.GetUID())}); client.IgnoreNotFound(err) != nil {
			err = fmt.Errorf("deleting %s %s of blocked ZtunnelConfig %s: %w", kind, live.GetName(), zc.Name, err)
			events.Failed(r.Recorder, zc, events.ReasonApplyFailed, err)
			errs = append(errs, err)
			continue
		}
		events.Normal(r.Recorder, zc, events.ReasonDeleted, events.ActionDelete, fmt.Sprintf("Deleted %s %s: the nodeSelector overlaps an older ZtunnelConfig", kind, live.GetName()))
	}
	return errors.Join(errs...)
}

// SetupWithManager registers the reconciler. Every owned kind is watched so
// drift is repaired; a change to any ZtunnelConfig's selector (or its
// creation or deletion) re-arbitrates all of them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.NodeStatus == nil {
		r.NodeStatus = NewHTTPNodeStatus(HTTPNodeStatusOptions{Log: mgr.GetLogger().WithName("ztunnel-status")})
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&meshv1alpha1.ZtunnelConfig{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&appsv1.DaemonSet{}).
		Owns(&rbacv1.ClusterRole{}).
		Owns(&rbacv1.ClusterRoleBinding{}).
		Watches(&meshv1alpha1.ZtunnelConfig{}, handler.EnqueueRequestsFromMapFunc(r.everyConfig),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// The ztunnel pods tell why nodes are not ready, and which versions run.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToConfig),
			builder.WithPredicates(predicate.NewPredicateFuncs(isZtunnelPod(namespaceOr(r.Namespace))))).
		Named("ztunnelconfig").
		Complete(r)
}

func (r *Reconciler) everyConfig(ctx context.Context, _ client.Object) []reconcile.Request {
	var all meshv1alpha1.ZtunnelConfigList
	if err := r.List(ctx, &all); err != nil {
		log.FromContext(ctx).Error(err, "listing ZtunnelConfigs to re-check overlaps")
		return nil
	}
	out := make([]reconcile.Request, 0, len(all.Items))
	for _, zc := range all.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&zc)})
	}
	return out
}
