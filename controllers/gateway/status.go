package gateway

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// equalConditions reports whether two condition lists say the same thing,
// ignoring LastTransitionTime, so unchanged status is never rewritten.
func equalConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason ||
			x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// patchStatus writes obj's status as a merge patch from orig, guarded by
// resourceVersion: the spec requires read-modify-write, so a concurrent
// writer (another controller's parent entry) is never overwritten. On a
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
