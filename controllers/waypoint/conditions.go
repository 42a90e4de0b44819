package waypoint

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
)

// Condition reasons this reconciler writes.
const (
	ReasonAllReplicasReady   = "AllReplicasReady"
	ReasonReplicasNotReady   = "ReplicasNotReady"
	ReasonScaledToZero       = "ScaledToZero"
	ReasonDeploymentMissing  = "DeploymentMissing"
	ReasonCreating           = "Creating"
	ReasonRollingOut         = "RollingOut"
	ReasonScalingUp          = "ScalingUp"
	ReasonScalingDown        = "ScalingDown"
	ReasonComplete           = "Complete"
	ReasonProgressDeadline   = "ProgressDeadlineExceeded"
	ReasonApplyFailed        = "ApplyFailed"
	ReasonReplicaFailure     = "ReplicaFailure"
	ReasonAsExpected         = "AsExpected"
	ReasonReadFailed         = conditions.ReasonReadFailed
	deploymentDeadlineReason = "ProgressDeadlineExceeded"
)

// observedCurrent: the Deployment controller has seen the latest template.
func observedCurrent(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration >= d.Generation
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func stuck(d *appsv1.Deployment) bool {
	c := deploymentCondition(d, appsv1.DeploymentProgressing)
	return c != nil && c.Status == corev1.ConditionFalse && c.Reason == deploymentDeadlineReason
}

func cond(t string, ok bool, gen int64, reason, msg string, args ...any) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: s, ObservedGeneration: gen, Reason: reason, Message: fmt.Sprintf(msg, args...)}
}

// ReadyCondition is True when every desired replica runs the current
// template and is ready. d is nil when the Deployment does not exist.
func ReadyCondition(gen int64, d *appsv1.Deployment, desired int32, version string) metav1.Condition {
	const t = meshv1alpha1.ConditionReady
	switch {
	case d == nil:
		return cond(t, false, gen, ReasonDeploymentMissing, "the waypoint Deployment does not exist yet")
	case desired == 0:
		return cond(t, false, gen, ReasonScaledToZero, "scaled to 0 replicas: traffic that uses this waypoint cannot be served")
	case observedCurrent(d) && d.Status.UpdatedReplicas >= desired && d.Status.ReadyReplicas >= desired:
		return cond(t, true, gen, ReasonAllReplicasReady, "%d/%d replicas ready at %s", d.Status.ReadyReplicas, desired, version)
	default:
		return cond(t, false, gen, ReasonReplicasNotReady, "%d/%d replicas ready, %d/%d at the current template (%s)",
			d.Status.ReadyReplicas, desired, d.Status.UpdatedReplicas, desired, version)
	}
}

// ProgressingCondition is True while a rollout or scale operation is under way.
func ProgressingCondition(gen int64, d *appsv1.Deployment, desired int32) metav1.Condition {
	const t = meshv1alpha1.ConditionProgressing
	switch {
	case d == nil:
		return cond(t, true, gen, ReasonCreating, "creating the waypoint Deployment")
	case stuck(d):
		return cond(t, false, gen, ReasonProgressDeadline, "the rollout made no progress within the Deployment's progress deadline")
	case !observedCurrent(d):
		return cond(t, true, gen, ReasonRollingOut, "the Deployment controller has not yet seen generation %d", d.Generation)
	case d.Status.UpdatedReplicas < desired:
		return cond(t, true, gen, ReasonRollingOut, "%d/%d replicas at the current template", d.Status.UpdatedReplicas, desired)
	case d.Status.Replicas > desired:
		return cond(t, true, gen, ReasonScalingDown, "%d replicas running, %d desired", d.Status.Replicas, desired)
	case d.Status.ReadyReplicas < desired:
		return cond(t, true, gen, ReasonScalingUp, "%d/%d replicas ready", d.Status.ReadyReplicas, desired)
	default:
		return cond(t, false, gen, ReasonComplete, "%d replicas at the current template and ready", desired)
	}
}

// DegradedCondition is True when the operator cannot reach the desired
// state: a failed read or write, a stuck rollout or pods that cannot be created.
func DegradedCondition(gen int64, d *appsv1.Deployment, err error) metav1.Condition {
	const t = meshv1alpha1.ConditionDegraded
	if unread := new(unreadError); errors.As(err, unread) {
		return cond(t, true, gen, ReasonReadFailed, "%v", err)
	}
	if err != nil {
		return cond(t, true, gen, ReasonApplyFailed, "%v", err)
	}
	if d != nil {
		if stuck(d) {
			c := deploymentCondition(d, appsv1.DeploymentProgressing)
			return cond(t, true, gen, ReasonProgressDeadline, "rollout stuck: %s", c.Message)
		}
		if c := deploymentCondition(d, appsv1.DeploymentReplicaFailure); c != nil && c.Status == corev1.ConditionTrue {
			return cond(t, true, gen, ReasonReplicaFailure, "pods cannot be created: %s", c.Message)
		}
	}
	return cond(t, false, gen, ReasonAsExpected, "the waypoint fleet matches its spec")
}

// unreadError is a failure to read the Deployment: its state is unknown.
type unreadError struct{ error }

func (e unreadError) Unwrap() error { return e.error }
