package ztunnel

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshac "github.com/wayfabric/wayfabric/api/applyconfiguration/api/v1alpha1"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
)

// ComputeStatus derives the whole status (this reconciler owns all of it).
func ComputeStatus(zc *meshv1alpha1.ZtunnelConfig, s Situation, now metav1.Time) meshv1alpha1.ZtunnelConfigStatus {
	st := meshv1alpha1.ZtunnelConfigStatus{ObservedGeneration: zc.Generation, Version: s.Version}
	if d := s.DaemonSet; d != nil && s.BlockedBy == "" {
		st.DesiredNodes, st.ReadyNodes, st.UpdatedNodes = d.Status.DesiredNumberScheduled, s.ReadyNodes(), d.Status.UpdatedNumberScheduled
	}
	if s.BlockedBy == "" {
		st.CapturedPods, st.Versions = s.Observed.CapturedPods, s.Observed.Versions
	}
	for _, c := range []metav1.Condition{ReadyCondition(s), ProgressingCondition(s), DegradedCondition(s)} {
		st.Conditions = append(st.Conditions, conditions.Merge(zc.Status.Conditions, c, now))
	}
	return st
}

// StatusUpToDate reports whether have already holds want.
func StatusUpToDate(have, want meshv1alpha1.ZtunnelConfigStatus) bool {
	if have.ObservedGeneration != want.ObservedGeneration || have.Version != want.Version ||
		have.DesiredNodes != want.DesiredNodes || have.ReadyNodes != want.ReadyNodes || have.UpdatedNodes != want.UpdatedNodes ||
		have.CapturedPods != want.CapturedPods || !slices.Equal(have.Versions, want.Versions) {
		return false
	}
	for _, c := range want.Conditions {
		if !conditions.Same(have.Conditions, c) {
			return false
		}
	}
	return true
}

// statusApply is the server-side apply of the status subresource (this
// reconciler owns all of it).
func statusApply(zc *meshv1alpha1.ZtunnelConfig, st meshv1alpha1.ZtunnelConfigStatus) *meshac.ZtunnelConfigApplyConfiguration {
	return meshac.ZtunnelConfig(zc.Name).WithStatus(meshac.ZtunnelConfigStatus().
		WithObservedGeneration(st.ObservedGeneration).
		WithDesiredNodes(st.DesiredNodes).
		WithReadyNodes(st.ReadyNodes).
		WithUpdatedNodes(st.UpdatedNodes).
		WithCapturedPods(st.CapturedPods).
		WithVersion(st.Version).
		WithVersions(versionsApply(st.Versions)...).
		WithConditions(conditions.ToApply(st.Conditions...)...))
}

func versionsApply(vs []meshv1alpha1.ZtunnelVersionStatus) []*meshac.ZtunnelVersionStatusApplyConfiguration {
	out := make([]*meshac.ZtunnelVersionStatusApplyConfiguration, 0, len(vs))
	for _, v := range vs {
		out = append(out, meshac.ZtunnelVersionStatus().WithVersion(v.Version).WithNodes(v.Nodes).
			WithReadyNodes(v.ReadyNodes).WithCapturedPods(v.CapturedPods))
	}
	return out
}
