package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestMergeRouteParents(t *testing.T) {
	old := metav1.NewTime(metav1.Now().Add(-3600e9))
	svcRef := gatewayv1.ParentReference{Group: new(gatewayv1.Group("")), Kind: new(gatewayv1.Kind("Service")), Name: "reviews"}
	goneRef := gatewayv1.ParentReference{Group: new(gatewayv1.Group("")), Kind: new(gatewayv1.Kind("Service")), Name: "gone"}
	foreign := gatewayv1.RouteParentStatus{ParentRef: svcRef, ControllerName: "istio.io/gateway-controller",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: "False", Reason: "Other"}}}
	ourOld := gatewayv1.RouteParentStatus{ParentRef: svcRef, ControllerName: ControllerName,
		Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old}}}
	stale := gatewayv1.RouteParentStatus{ParentRef: goneRef, ControllerName: ControllerName, Conditions: ourOld.Conditions}
	want := []gatewayv1.RouteParentStatus{{ParentRef: svcRef, ControllerName: ControllerName, Conditions: []metav1.Condition{
		{Type: "Accepted", Status: "True", Reason: "Accepted", ObservedGeneration: 2},
		{Type: "ResolvedRefs", Status: "False", Reason: "BackendNotFound", ObservedGeneration: 2},
	}}}

	got := mergeRouteParents([]gatewayv1.RouteParentStatus{foreign, ourOld, stale}, want, metav1.Now())
	if len(got) != 2 {
		t.Fatalf("got %d parents, want the foreign one and ours: %+v", len(got), got)
	}
	if got[0].ControllerName != foreign.ControllerName || got[0].Conditions[0].Reason != "Other" {
		t.Errorf("foreign entry changed: %+v", got[0])
	}
	ours := got[1]
	if len(ours.Conditions) != 2 || ours.Conditions[0].ObservedGeneration != 2 {
		t.Errorf("our entry not updated: %+v", ours)
	}
	if !ours.Conditions[0].LastTransitionTime.Equal(&old) {
		t.Errorf("Accepted did not change status, yet its LastTransitionTime moved to %v", ours.Conditions[0].LastTransitionTime)
	}
	if ours.Conditions[1].LastTransitionTime.IsZero() {
		t.Errorf("new condition has no LastTransitionTime")
	}
	if got := mergeRouteParents([]gatewayv1.RouteParentStatus{foreign, ourOld}, nil, metav1.Now()); len(got) != 1 || got[0].ControllerName == ControllerName {
		t.Errorf("our entries were not removed when we no longer handle any parent: %+v", got)
	}
}
