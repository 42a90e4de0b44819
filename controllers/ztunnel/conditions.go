package ztunnel

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// Condition reasons this reconciler writes.
const (
	ReasonOverlap          = "NodeSelectorOverlap"
	ReasonAllNodesReady    = "AllNodesReady"
	ReasonNodesNotReady    = "NodesNotReady"
	ReasonNoMatchingNodes  = "NoMatchingNodes"
	ReasonDaemonSetMissing = "DaemonSetMissing"
	ReasonCreating         = "Creating"
	ReasonRollingOut       = "RollingOut"
	ReasonStarting         = "NodesStarting"
	ReasonComplete         = "Complete"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonMisscheduled     = "Misscheduled"
	ReasonAsExpected       = "AsExpected"
	ReasonReadFailed       = "ReadFailed"
)

// Situation is everything the conditions depend on.
type Situation struct {
	Generation int64
	// DaemonSet is nil when it does not exist.
	DaemonSet *appsv1.DaemonSet
	// BlockedBy names the earlier ZtunnelConfig whose selector overlaps.
	BlockedBy string
	// Err is the error that stopped or marred the reconcile; Unread says it
	// came from reading what the conditions depend on (the other configs or
	// the DaemonSet), which are then unknown.
	Err     error
	Unread  bool
	Version string
	// Failures of the ztunnel pods (DiagnosePods), most severe first.
	Failures []PodFailure
	// Observed is what the ztunnel pods and their status endpoints show.
	Observed Observed
}

func (s Situation) cond(t string, ok bool, reason, msg string, args ...any) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: st, ObservedGeneration: s.Generation, Reason: reason, Message: fmt.Sprintf(msg, args...)}
}

// ReadyNodes counts the nodes with a ready ztunnel. The DaemonSet judges a
// node by its oldest pod, which after a handover is the old ztunnel,
// draining (not ready) for drainSeconds while the new one serves; the pods
// themselves show the node ready. Either count can only lag the truth, so
// the larger one is it.
func (s Situation) ReadyNodes() int32 {
	if s.DaemonSet == nil {
		return s.Observed.ReadyNodes
	}
	return max(s.DaemonSet.Status.NumberReady, s.Observed.ReadyNodes)
}

// unknown: what the condition depends on could not be read.
func (s Situation) unknown(t string) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionUnknown, ObservedGeneration: s.Generation, Reason: ReasonReadFailed, Message: fmt.Sprint(s.Err)}
}

func (s Situation) observedCurrent() bool {
	return s.DaemonSet.Status.ObservedGeneration >= s.DaemonSet.Generation
}

// OverlapMessage explains a blocked config to a person.
func OverlapMessage(blockedBy string) string {
	return fmt.Sprintf("nodeSelector overlaps ZtunnelConfig %q, which was created first and owns those nodes; "+
		"this ZtunnelConfig deploys nothing until the selectors are disjoint (a shared key with different values)", blockedBy)
}

// ReadyCondition is True when every selected node runs a ready ztunnel of
// the current template.
func ReadyCondition(s Situation) metav1.Condition {
	const t = meshv1alpha1.ConditionReady
	switch {
	case s.Unread:
		return s.unknown(t)
	case s.BlockedBy != "":
		return s.cond(t, false, ReasonOverlap, "%s", OverlapMessage(s.BlockedBy))
	case s.DaemonSet == nil:
		return s.cond(t, false, ReasonDaemonSetMissing, "the ztunnel DaemonSet does not exist yet")
	}
	st := s.DaemonSet.Status
	switch {
	case s.observedCurrent() && st.DesiredNumberScheduled == 0:
		return s.cond(t, false, ReasonNoMatchingNodes, "no node matches the nodeSelector")
	case s.observedCurrent() && st.UpdatedNumberScheduled >= st.DesiredNumberScheduled && s.ReadyNodes() >= st.DesiredNumberScheduled:
		return s.cond(t, true, ReasonAllNodesReady, "%d/%d nodes ready at %s", s.ReadyNodes(), st.DesiredNumberScheduled, s.Version)
	default:
		return s.cond(t, false, ReasonNodesNotReady, "%d/%d nodes ready, %d/%d at the current template (%s)",
			s.ReadyNodes(), st.DesiredNumberScheduled, st.UpdatedNumberScheduled, st.DesiredNumberScheduled, s.Version)
	}
}

// ProgressingCondition is True while ztunnels are being rolled out or started.
func ProgressingCondition(s Situation) metav1.Condition {
	const t = meshv1alpha1.ConditionProgressing
	switch {
	case s.Unread:
		return s.unknown(t)
	case s.BlockedBy != "":
		return s.cond(t, false, ReasonOverlap, "nothing is deployed while the nodeSelector overlaps ZtunnelConfig %q", s.BlockedBy)
	case s.DaemonSet == nil:
		return s.cond(t, true, ReasonCreating, "creating the ztunnel DaemonSet")
	case !s.observedCurrent():
		return s.cond(t, true, ReasonRollingOut, "the DaemonSet controller has not yet seen generation %d", s.DaemonSet.Generation)
	}
	st := s.DaemonSet.Status
	switch {
	case st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		return s.cond(t, true, ReasonRollingOut, "%d/%d nodes at the current template", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	case s.ReadyNodes() < st.DesiredNumberScheduled:
		return s.cond(t, true, ReasonStarting, "%d/%d nodes ready", s.ReadyNodes(), st.DesiredNumberScheduled)
	default:
		return s.cond(t, false, ReasonComplete, "%d nodes at the current template and ready", st.DesiredNumberScheduled)
	}
}

// DegradedCondition is True when the desired state cannot be reached: a
// write failed, or ztunnel pods cannot be pulled, created, kept running or
// scheduled (the message names the nodes and what the kubelet said), or
// ztunnels run where they should not.
func DegradedCondition(s Situation) metav1.Condition {
	const t = meshv1alpha1.ConditionDegraded
	switch {
	case s.Unread:
		return s.cond(t, true, ReasonReadFailed, "%v", s.Err)
	case s.BlockedBy != "":
		return s.cond(t, true, ReasonOverlap, "%s", OverlapMessage(s.BlockedBy))
	case s.Err != nil:
		return s.cond(t, true, ReasonApplyFailed, "%v", s.Err)
	case len(s.Failures) > 0:
		reason, msg := FailureMessage(s.Failures)
		return s.cond(t, true, reason, "%s", msg)
	case s.DaemonSet != nil && s.DaemonSet.Status.NumberMisscheduled > 0:
		return s.cond(t, true, ReasonMisscheduled, "%d nodes run a ztunnel they should not (node labels changed?)",
			s.DaemonSet.Status.NumberMisscheduled)
	default:
		return s.cond(t, false, ReasonAsExpected, "the ztunnels match their spec")
	}
}
