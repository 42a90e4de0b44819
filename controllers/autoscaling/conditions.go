package autoscaling

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
)

// Condition reasons of the controller itself (the policy's own reasons,
// horizontal.Reason and horizontal.LimitReason, are used as they are).
const (
	// ReasonInvalidConfig: the spec cannot be turned into a policy.
	ReasonInvalidConfig = "InvalidConfig"
	// ReasonCollectionFailed: the Waypoint's pods could not be listed.
	ReasonCollectionFailed = "CollectionFailed"
	// ReasonWithinLimits: no bound cut the recommendation.
	ReasonWithinLimits = "WithinLimits"
)

// activeCondition is ScalingActive for a decision: True while load reports
// arrive, False (reason NoMetrics) while none does, as the HPA's
// ScalingActive is False when it cannot read metrics.
func activeCondition(gen int64, d horizontal.Decision) metav1.Condition {
	status := metav1.ConditionTrue
	if d.Reason == horizontal.ReasonNoMetrics {
		status = metav1.ConditionFalse
	}
	return metav1.Condition{Type: meshv1alpha1.ConditionScalingActive, Status: status, ObservedGeneration: gen,
		Reason: string(d.Reason), Message: d.Message}
}

// inactiveCondition is ScalingActive=False for a failure before any decision.
func inactiveCondition(gen int64, reason string, err error) metav1.Condition {
	return metav1.Condition{Type: meshv1alpha1.ConditionScalingActive, Status: metav1.ConditionFalse, ObservedGeneration: gen,
		Reason: reason, Message: err.Error()}
}

// limitedCondition is ScalingLimited: True, with the bound as reason, when
// min/max or a rate limit cut what the load asked for.
func limitedCondition(gen int64, d horizontal.Decision) metav1.Condition {
	if !d.Limited {
		return metav1.Condition{Type: meshv1alpha1.ConditionScalingLimited, Status: metav1.ConditionFalse, ObservedGeneration: gen,
			Reason: ReasonWithinLimits, Message: fmt.Sprintf("the load asks for %d replicas, within minReplicas, maxReplicas and the rate limits", d.Recommended)}
	}
	return metav1.Condition{Type: meshv1alpha1.ConditionScalingLimited, Status: metav1.ConditionTrue, ObservedGeneration: gen,
		Reason:  string(d.LimitReason),
		Message: fmt.Sprintf("the load asks for %d replicas; %s holds the desired count at %d", d.Recommended, limitName(d.LimitReason), d.DesiredReplicas)}
}

func limitName(r horizontal.LimitReason) string {
	switch r {
	case horizontal.LimitMinReplicas:
		return "minReplicas"
	case horizontal.LimitMaxReplicas:
		return "maxReplicas"
	case horizontal.LimitScaleUpRate:
		return "the scaleUp rate limit"
	case horizontal.LimitScaleDownRate:
		return "the scaleDown rate limit"
	}
	return string(r)
}
