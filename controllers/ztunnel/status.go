package ztunnel

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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

func statusApply(zc *meshv1alpha1.ZtunnelConfig, st meshv1alpha1.ZtunnelConfigStatus) *unstructured.Unstructured {
	conds := make([]any, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, conditions.ToApply(c))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "ZtunnelConfig",
		"metadata": map[string]any{"name": zc.Name},
		"status": map[string]any{
			"observedGeneration": st.ObservedGeneration,
			"desiredNodes":       int64(st.DesiredNodes),
			"readyNodes":         int64(st.ReadyNodes),
			"updatedNodes":       int64(st.UpdatedNodes),
			"capturedPods":       int64(st.CapturedPods),
			"version":            st.Version,
			"versions":           versionsApply(st.Versions),
			"conditions":         conds,
		},
	}}
}

func versionsApply(vs []meshv1alpha1.ZtunnelVersionStatus) []any {
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, map[string]any{"version": v.Version, "nodes": int64(v.Nodes),
			"readyNodes": int64(v.ReadyNodes), "capturedPods": int64(v.CapturedPods)})
	}
	return out
}
