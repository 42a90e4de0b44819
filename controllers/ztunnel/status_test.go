package ztunnel

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	zc := &meshv1alpha1.ZtunnelConfig{ObjectMeta: metav1.ObjectMeta{Name: "z", Generation: 2}}
	st := ComputeStatus(zc, Situation{Generation: 2, DaemonSet: ds(1, 1, 3, 2, 1), Version: "v1"}, now)
	if st.DesiredNodes != 3 || st.UpdatedNodes != 2 || st.ReadyNodes != 1 || st.ObservedGeneration != 2 || len(st.Conditions) != 3 {
		t.Fatalf("unexpected status %+v", st)
	}
	observed := Observed{CapturedPods: 9, Versions: []meshv1alpha1.ZtunnelVersionStatus{{Version: "v1", Nodes: 3, ReadyNodes: 3, CapturedPods: 9}}}
	st = ComputeStatus(zc, Situation{Generation: 2, DaemonSet: ds(1, 1, 3, 3, 3), Version: "v1", Observed: observed}, now)
	if st.CapturedPods != 9 || len(st.Versions) != 1 || st.Versions[0] != observed.Versions[0] {
		t.Fatalf("observed pods and versions missing from %+v", st)
	}
	for name, change := range map[string]func(*meshv1alpha1.ZtunnelConfigStatus){
		"captured pods":     func(s *meshv1alpha1.ZtunnelConfigStatus) { s.CapturedPods++ },
		"a version's nodes": func(s *meshv1alpha1.ZtunnelConfigStatus) { s.Versions[0].ReadyNodes-- },
		"a new version": func(s *meshv1alpha1.ZtunnelConfigStatus) {
			s.Versions = append(s.Versions, meshv1alpha1.ZtunnelVersionStatus{Version: "v2", Nodes: 1})
		},
	} {
		changed := *st.DeepCopy()
		change(&changed)
		if StatusUpToDate(st, changed) {
			t.Errorf("a change of %s needs a write", name)
		}
	}
	// A blocked config reports no nodes even if an old DaemonSet lingers.
	st = ComputeStatus(zc, Situation{Generation: 2, DaemonSet: ds(1, 1, 3, 3, 3), BlockedBy: "other", Version: "v1", Observed: observed}, now)
	if st.DesiredNodes != 0 || st.ReadyNodes != 0 || st.CapturedPods != 0 || st.Versions != nil {
		t.Fatalf("blocked config must report no nodes: %+v", st)
	}
	if !StatusUpToDate(st, st) {
		t.Fatal("a status is up to date with itself")
	}
	changed := *st.DeepCopy()
	changed.Conditions[0].Message = "other"
	if StatusUpToDate(changed, st) {
		t.Fatal("a changed condition message needs a write")
	}
}
