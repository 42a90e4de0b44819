package authorization

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

func svcRef(name string) meshv1alpha1.PolicyTargetReference {
	return meshv1alpha1.PolicyTargetReference{Kind: "Service", Name: name}
}

func TestAcceptedAndEnforcedBy(t *testing.T) {
	l4 := &authz.Policy{Action: meshv1alpha1.ActionAllow}
	l7 := &authz.Policy{Action: meshv1alpha1.ActionAllow, L7: true}
	broken := &authz.Policy{Action: meshv1alpha1.ActionDeny, Err: errors.New("rules[0].from[0].source.principals: a source must set at least one field")}
	brokenAudit := &authz.Policy{Action: meshv1alpha1.ActionAudit, Err: errors.New("x")}
	withWaypoint := func(name string) Target { return Target{Ref: svcRef(name), Waypoint: "app/wp"} }
	without := func(name string) Target {
		return Target{Ref: svcRef(name), NoWaypoint: "neither the Service nor its Namespace has the label mesh.wayfabric.io/use-waypoint"}
	}
	missing := Target{Ref: svcRef("gone"), Problem: "Service gone does not exist"}

	cases := []struct {
		name       string
		f          Facts
		status     metav1.ConditionStatus
		reason     string
		enforcedBy meshv1alpha1.EnforcementPoint
		message    []string
	}{
		{"namespace-wide", Facts{Compiled: l4}, "True", "Accepted", "Ztunnel",
			[]string{"destination ztunnels of every pod of its namespace"}},
		{"selector", Facts{Compiled: l4, Selector: true}, "True", "Accepted", "Ztunnel",
			[]string{"pods of its namespace matching its selector"}},
		{"mesh-wide", Facts{Compiled: l4, Root: true}, "True", "Accepted", "Ztunnel", []string{"every pod of the mesh"}},
		{"mesh-wide selector", Facts{Compiled: l4, Root: true, Selector: true}, "True", "Accepted", "Ztunnel", []string{"in every namespace (mesh-wide)"}},
		{"Service with waypoint", Facts{Compiled: l7, Targets: []Target{withWaypoint("web")}}, "True", "Accepted", "Waypoint",
			[]string{"by waypoint app/wp for Service web"}},
		{"the Waypoint and a Gateway", Facts{Compiled: l7, Targets: []Target{
			{Ref: meshv1alpha1.PolicyTargetReference{Kind: "Waypoint", Name: "wp"}, Waypoint: "app/wp"},
			{Ref: meshv1alpha1.PolicyTargetReference{Kind: "Gateway", Name: "gw"}, Waypoint: "app/gw"}}},
			"True", "Accepted", "Waypoint", []string{"by waypoint app/gw for Gateway gw; by waypoint app/wp for Waypoint wp"}},
		{"L4 policy on a Service without waypoint", Facts{Compiled: l4, Targets: []Target{without("db")}}, "True", "Accepted", "Ztunnel",
			[]string{"destination ztunnels of Service db (no waypoint; L4 fields only)"}},
		{"L7 policy on a Service without waypoint", Facts{Compiled: l7, Targets: []Target{without("db")}}, "False", "WaypointRequired", "Ztunnel",
			[]string{"Service db uses no waypoint (neither the Service nor its Namespace", "only a waypoint can evaluate", "failing closed"}},
		{"targets with and without waypoint", Facts{Compiled: l4, Targets: []Target{withWaypoint("web"), without("db")}}, "True", "Accepted", "WaypointAndZtunnel",
			[]string{"by waypoint app/wp for Service web; by the destination ztunnels of Service db"}},
		{"a missing target", Facts{Compiled: l4, Targets: []Target{missing, withWaypoint("web")}}, "False", "TargetNotFound", "Waypoint",
			[]string{"Service gone does not exist.", "Enforced by waypoint app/wp for Service web."}},
		{"only missing targets", Facts{Compiled: l4, Targets: []Target{missing}}, "False", "TargetNotFound", "None",
			[]string{"Service gone does not exist. Nothing enforces it."}},
		{"does not compile", Facts{Compiled: broken, Targets: []Target{withWaypoint("web")}}, "False", "Invalid", "Waypoint",
			[]string{"does not compile: rules[0].from[0].source.principals", "fails closed: its waypoint denies every request"}},
		{"AUDIT does not compile", Facts{Compiled: brokenAudit}, "False", "Invalid", "Ztunnel", []string{"changes no decision"}},
	}
	for _, tc := range cases {
		c := AcceptedCondition(tc.f)
		if c.Status != tc.status || c.Reason != tc.reason {
			t.Errorf("%s: Accepted %s/%s, want %s/%s (%s)", tc.name, c.Status, c.Reason, tc.status, tc.reason, c.Message)
		}
		for _, m := range tc.message {
			if !strings.Contains(c.Message, m) {
				t.Errorf("%s: message %q lacks %q", tc.name, c.Message, m)
			}
		}
		if got := EnforcedBy(tc.f); got != tc.enforcedBy {
			t.Errorf("%s: enforcedBy %s, want %s", tc.name, got, tc.enforcedBy)
		}
	}
}

func TestComputeStatusListsWaypointsAndKeepsTransitionTime(t *testing.T) {
	f := Facts{Generation: 3, Compiled: &authz.Policy{Action: meshv1alpha1.ActionAllow}, Targets: []Target{
		{Ref: svcRef("b"), Waypoint: "app/wp2"}, {Ref: svcRef("a"), Waypoint: "app/wp"}, {Ref: svcRef("c"), Waypoint: "app/wp"},
	}}
	then := metav1.Unix(100, 0)
	st := ComputeStatus(meshv1alpha1.AuthorizationPolicyStatus{}, f, then)
	if got := strings.Join(st.Waypoints, ","); got != "app/wp,app/wp2" {
		t.Errorf("waypoints %q, want sorted and unique", got)
	}
	if st.ObservedGeneration != 3 || st.Conditions[0].ObservedGeneration != 3 {
		t.Errorf("observed generation not set: %+v", st)
	}
	again := ComputeStatus(st, f, metav1.Unix(200, 0))
	if !again.Conditions[0].LastTransitionTime.Equal(&then) || !StatusUpToDate(st, again) {
		t.Errorf("an unchanged status must keep its transition time and need no write")
	}
	f.Targets = nil
	if StatusUpToDate(st, ComputeStatus(st, f, then)) {
		t.Errorf("a changed enforcement point must be written")
	}
}

func TestComputeStatusWhenTargetsCannotBeRead(t *testing.T) {
	have := meshv1alpha1.AuthorizationPolicyStatus{EnforcedBy: meshv1alpha1.EnforcedByWaypoint, Waypoints: []string{"app/wp"}}
	f := Facts{Generation: 2, Compiled: &authz.Policy{Action: meshv1alpha1.ActionAllow},
		ReadErr: errors.New("reading Service app/web: timeout")}
	st := ComputeStatus(have, f, metav1.Unix(100, 0))
	c := st.Conditions[0]
	if c.Status != metav1.ConditionUnknown || c.Reason != "ReadFailed" || !strings.Contains(c.Message, "reading Service app/web") {
		t.Errorf("Accepted = %s/%s %q, want Unknown/ReadFailed naming the read", c.Status, c.Reason, c.Message)
	}
	if st.EnforcedBy != have.EnforcedBy || strings.Join(st.Waypoints, ",") != "app/wp" || st.ObservedGeneration != 2 {
		t.Errorf("an unread target must keep the last known enforcement, got %+v", st)
	}
	f.Compiled = &authz.Policy{Action: meshv1alpha1.ActionDeny, Err: errors.New("bad")}
	if c := AcceptedCondition(f); c.Reason != meshv1alpha1.ReasonInvalid {
		t.Errorf("a policy that does not compile is Invalid whatever its targets, got %s", c.Reason)
	}
}
