package gateway

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// patchStatus writes obj's status as a merge patch from orig, guarded by
// resourceVersion. Gateway API objects are shared with other
// implementations and status.parents of a route is an atomic list, so
// server-side apply (which the Wayfabric CRDs use) would take the whole list;
// the spec asks for read-modify-write instead, and a concurrent writer
// (another controller's parent entry) is never overwritten. On a
// conflict our copy is stale; the newer version's watch event requeues the
// object, so the conflict is not an error. written says whether it landed.
func patchStatus(ctx context.Context, c client.Client, obj, orig client.Object) (written bool, err error) {
	err = c.Status().Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		ctrl.LoggerFrom(ctx).V(1).Info("status changed underneath us; waiting for the newer version", "object", client.ObjectKeyFromObject(obj))
		return false, nil
	}
	return err == nil, err
}

// eventType is Normal for a condition that holds, Warning otherwise.
func eventType(c metav1.Condition) string {
	if c.Status == metav1.ConditionTrue {
		return corev1.EventTypeNormal
	}
	return corev1.EventTypeWarning
}
