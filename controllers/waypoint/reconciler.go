// Package waypoint reconciles Waypoint objects into waypoint fleets: a
// ServiceAccount, Deployment, Service and PodDisruptionBudget per Waypoint,
// written with server-side apply only when they differ from the desired state.
package waypoint

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/apply"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// MaxConcurrentReconciles: reconciles mostly wait on the API server, so a
// few in flight keep a large fleet converging quickly.
const MaxConcurrentReconciles = 8

// Reconciler turns a Waypoint into a ServiceAccount, Deployment, Service and
// PodDisruptionBudget.
type Reconciler struct {
	client.Client
	Recorder events.Recorder
	// Image is the default image repository (RELATED_IMAGE_WAYPOINT).
	Image string
	// DefaultVersion is the tag when spec.version is empty.
	DefaultVersion string
	// Namespace is the operator's (for the CA address); empty means
	// wayfabric-system.
	Namespace string
}

// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Waypoint's children and status to their desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, err error) {
	var wp meshv1alpha1.Waypoint
	if err := r.Get(ctx, req.NamespacedName, &wp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !wp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // owner references let the garbage collector remove the children
	}
	log.FromContext(ctx).V(1).Info("reconciling waypoint", "generation", wp.Generation)

	// The status is written on every way out (cluster-api's deferred
	// patch), so a failed step shows in Degraded, not only in the log.
	var live *appsv1.Deployment
	replicas, version := wp.DeploymentReplicas(nil), Version(&wp, r.DefaultVersion)
	defer func() { err = errors.Join(err, r.writeStatus(ctx, &wp, live, replicas, version, err)) }()

	if live, err = r.deployment(ctx, &wp); err != nil {
		return ctrl.Result{}, err
	}
	var current *int32
	if live != nil {
		current = live.Spec.Replicas
	}
	replicas = wp.DeploymentReplicas(current)
	applied, err := r.applyChildren(ctx, &wp, replicas)
	if applied != nil {
		live = applied // fresher than the cache: the first status already sees the Deployment
	}
	return ctrl.Result{}, err
}

// writeStatus applies the owned status when it differs from what the
// Waypoint shows; err is the reconcile's error, reported in Degraded.
func (r *Reconciler) writeStatus(ctx context.Context, wp *meshv1alpha1.Waypoint, live *appsv1.Deployment, replicas int32, version string, err error) error {
	st := ComputeStatus(wp, live, replicas, version, err, metav1.Now())
	if StatusUpToDate(wp.Status, st) {
		return nil
	}
	if err := r.Status().Apply(ctx, statusApply(wp, st), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		err = fmt.Errorf("writing status of Waypoint %s/%s: %w", wp.Namespace, wp.Name, err)
		events.Failed(r.Recorder, wp, events.ReasonStatusFailed, err)
		return err
	}
	return nil
}

// deployment reads the live Deployment from the cache; nil when absent.
func (r *Reconciler) deployment(ctx context.Context, wp *meshv1alpha1.Waypoint) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	if err := r.Get(ctx, client.ObjectKeyFromObject(wp), &d); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, unreadError{fmt.Errorf("reading Deployment %s/%s: %w", wp.Namespace, wp.Name, err)}
	}
	return &d, nil
}

// applyChildren ensures every child, continuing past failures so one bad
// object does not hold back the others; the errors are joined. It returns
// the live Deployment when that one was ensured.
func (r *Reconciler) applyChildren(ctx context.Context, wp *meshv1alpha1.Waypoint, replicas int32) (*appsv1.Deployment, error) {
	deploy := BuildDeployment(wp, DeploymentInput{
		ImageRepo: r.Image, DefaultVersion: r.DefaultVersion, Replicas: replicas, OperatorNamespace: r.Namespace,
	})
	children := []client.Object{BuildServiceAccount(wp), BuildService(wp), deploy, BuildPodDisruptionBudget(wp)}
	a := apply.Applier{Client: r.Client, FieldOwner: FieldOwner}
	var (
		errs   []error
		writes []events.Write
		ok     bool
	)
	for _, obj := range children {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		outcome, err := a.Ensure(ctx, obj)
		if err != nil {
			events.Failed(r.Recorder, wp, events.ReasonApplyFailed, err)
			errs = append(errs, err)
			continue
		}
		ok = ok || obj == client.Object(deploy)
		writes = append(writes, events.Write{Kind: kind, Name: obj.GetName(), Outcome: outcome})
	}
	events.Applied(r.Recorder, wp, writes)
	if !ok {
		deploy = nil
	}
	return deploy, errors.Join(errs...)
}

// SetupWithManager registers the reconciler, watching every owned kind so a
// deleted or edited child is repaired. The shared reader RBAC and the trust
// bundle copies have controllers of their own (controllers.Setup lists them).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&meshv1alpha1.Waypoint{}, builderWithPredicates()).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: MaxConcurrentReconciles}).
		Named("waypoint").
		Complete(r)
}
