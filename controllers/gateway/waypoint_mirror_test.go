package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestWaypointFor(t *testing.T) {
	for v, wantT := range map[string]meshv1alpha1.TrafficType{"": "service", "service": "service", "workload": "workload", "all": "all", "bogus": ""} {
		gw := &gatewayv1.Gateway{}
		if v != "" {
			gw.Labels = map[string]string{LabelWaypointFor: v}
		}
		got, err := waypointFor(gw)
		if got != wantT || (err != nil) != (wantT == "") {
			t.Errorf("label %q: got %q, %v; want %q", v, got, err, wantT)
		}
	}
}

func TestWaypointConflict(t *testing.T) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "wp", Namespace: "ns", UID: "gw-uid"}}
	owned := desiredWaypoint(gw, meshv1alpha1.TrafficService)
	foreign := owned.DeepCopy()
	foreign.OwnerReferences = nil
	otherGateway := owned.DeepCopy()
	otherGateway.OwnerReferences[0].UID = types.UID("old-gw-uid")
	for name, tc := range map[string]struct {
		wp       *meshv1alpha1.Waypoint
		conflict bool
	}{
		"none":                    {nil, false},
		"ours":                    {owned, false},
		"made by hand":            {foreign, true},
		"owned by an old Gateway": {otherGateway, true},
	} {
		if got := waypointConflict(gw, tc.wp); (got != "") != tc.conflict {
			t.Errorf("%s: conflict %q, want %v", name, got, tc.conflict)
		}
	}
	if ref := metav1.GetControllerOf(owned); ref == nil || ref.Kind != "Gateway" || ref.UID != gw.UID {
		t.Errorf("desired Waypoint is not controlled by its Gateway: %+v", owned.OwnerReferences)
	}
}
