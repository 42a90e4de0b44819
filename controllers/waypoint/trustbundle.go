package waypoint

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/apply"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// LabelTrustBundleCopy marks the trust-bundle ConfigMaps this controller
// publishes, so it removes only its own copies.
const LabelTrustBundleCopy = "mesh.wayfabric.io/trust-bundle-copy"

// trustBundleKey is the single work item: every relevant event maps to it.
var trustBundleKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: meta.TrustBundleConfigMap}}

// TrustBundleReconciler copies the CA's trust bundle (a ConfigMap in the
// operator namespace, rewritten on root rotation) into every namespace that
// has a Waypoint, where waypoint pods mount it, and removes copies from
// namespaces that no longer have one.
type TrustBundleReconciler struct {
	client.Client
	// Namespace is the operator's (empty: wayfabric-system).
	Namespace string
}

// BuildTrustBundleCopy is the copy of source published in namespace.
func BuildTrustBundleCopy(source *corev1.ConfigMap, namespace string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: meta.TrustBundleConfigMap, Namespace: namespace,
			Labels: map[string]string{
				meta.LabelManagedBy: meta.ManagedBy, meta.LabelPartOf: "wayfabric", LabelTrustBundleCopy: "true",
			},
		},
		Data: map[string]string{meta.TrustBundleKey: source.Data[meta.TrustBundleKey]},
	}
}

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete

// Reconcile publishes and prunes the copies.
func (r *TrustBundleReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	operatorNS := meta.OperatorNamespace(r.Namespace)
	var source corev1.ConfigMap
	err := r.Get(ctx, types.NamespacedName{Namespace: operatorNS, Name: meta.TrustBundleConfigMap}, &source)
	if apierrors.IsNotFound(err) || err == nil && source.Data[meta.TrustBundleKey] == "" {
		return ctrl.Result{}, nil // the CA has not published a root yet; its write re-triggers us
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the trust bundle %s/%s: %w", operatorNS, meta.TrustBundleConfigMap, err)
	}
	var wps meshv1alpha1.WaypointList
	if err := r.List(ctx, &wps); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing Waypoints: %w", err)
	}
	want := map[string]bool{}
	for i := range wps.Items {
		if ns := wps.Items[i].Namespace; ns != operatorNS && wps.Items[i].DeletionTimestamp.IsZero() {
			want[ns] = true
		}
	}
	a := apply.Applier{Client: r.Client, FieldOwner: FieldOwner}
	var errs []error
	for ns := range want {
		if _, err := a.Ensure(ctx, BuildTrustBundleCopy(&source, ns)); err != nil {
			errs = append(errs, err)
		}
	}
	var copies corev1.ConfigMapList
	if err := r.List(ctx, &copies, client.MatchingLabels{LabelTrustBundleCopy: "true"}); err != nil {
		return ctrl.Result{}, errors.Join(append(errs, fmt.Errorf("listing trust bundle copies: %w", err))...)
	}
	for i := range copies.Items {
		if c := &copies.Items[i]; !want[c.Namespace] && c.Name == meta.TrustBundleConfigMap {
			if err := r.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("removing the trust bundle from %s: %w", c.Namespace, err))
			}
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// SetupWithManager watches Waypoints (created or deleted) and trust-bundle ConfigMaps.
func (r *TrustBundleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{trustBundleKey}
	})
	named := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == meta.TrustBundleConfigMap })
	return ctrl.NewControllerManagedBy(mgr).
		Named("waypoint-trust-bundle").
		Watches(&meshv1alpha1.Waypoint{}, toKey, builder.WithPredicates(membershipChanged)).
		Watches(&corev1.ConfigMap{}, toKey, builder.WithPredicates(named)).
		Complete(r)
}
