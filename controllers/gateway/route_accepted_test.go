package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRouteAccepted(t *testing.T) {
	svc := parentFacts{Parent: "Service ns/reviews", Found: true, IsService: true, Waypoint: "wp", WaypointSource: "label", WaypointFound: true, Allowed: true}
	with := func(f parentFacts, edit func(*parentFacts)) parentFacts { edit(&f); return f }
	for name, tc := range map[string]struct {
		f    parentFacts
		want want
	}{
		"service through a waypoint":  {svc, want{metav1.ConditionTrue, "Accepted"}},
		"service missing":             {with(svc, func(f *parentFacts) { f.Found = false }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"service without waypoint":    {with(svc, func(f *parentFacts) { f.Waypoint = "" }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"waypoint named but missing":  {with(svc, func(f *parentFacts) { f.WaypointFound = false }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"service port missing":        {with(svc, func(f *parentFacts) { f.SectionMismatch = "no port 81" }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"waypoint for workloads only": {with(svc, func(f *parentFacts) { f.WorkloadOnly = true }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"headless service":            {with(svc, func(f *parentFacts) { f.NotClusterIP = true }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"consumer route":              {with(svc, func(f *parentFacts) { f.ConsumerNamespace = "client" }), want{metav1.ConditionTrue, "Accepted"}},
		"conflicted by a GRPCRoute":   {with(svc, func(f *parentFacts) { f.Conflicted, f.ConflictWith = true, "ns/g" }), want{metav1.ConditionFalse, "Conflicted"}},
		"partly conflicted":           {with(svc, func(f *parentFacts) { f.ConflictPorts, f.ConflictWith = []int32{7070}, "ns/g" }), want{metav1.ConditionTrue, "Accepted"}},
		"invalid before conflicted":   {with(svc, func(f *parentFacts) { f.Conflicted, f.Found = true, false }), want{metav1.ConditionFalse, "NoMatchingParent"}},
		"waypoint parent":             {parentFacts{Parent: "Waypoint ns/wp", Found: true, Allowed: true}, want{metav1.ConditionTrue, "Accepted"}},
		"waypoint parent missing":     {parentFacts{Parent: "Waypoint ns/wp"}, want{metav1.ConditionFalse, "NoMatchingParent"}},
		"listeners refuse":            {parentFacts{Parent: "Gateway ns/wp", Found: true, NotAllowedWhy: "from Same"}, want{metav1.ConditionFalse, "NotAllowedByListeners"}},
		"no listener selected":        {parentFacts{Parent: "Gateway ns/wp", Found: true, SectionMismatch: "no listener x", NotAllowedWhy: "n/a"}, want{metav1.ConditionFalse, "NoMatchingParent"}},
	} {
		tc.f.Generation = 9
		check(t, name, routeAccepted(tc.f), tc.want, 9)
	}
}

func TestRouteAcceptedMessages(t *testing.T) {
	svc := parentFacts{Parent: "Service ns/reviews", Found: true, IsService: true, Waypoint: "wp", WaypointSource: "label", WaypointFound: true, Allowed: true}
	consumer := svc
	consumer.ConsumerNamespace = "client"
	if m := routeAccepted(consumer).Message; !contains(m, "clients in namespace client only") {
		t.Errorf("consumer route message %q does not say whose traffic it changes", m)
	}
	partly := svc
	partly.ConflictPorts, partly.ConflictWith = []int32{7070}, "ns/g"
	if m := routeAccepted(partly).Message; !contains(m, "not on port 7070") || !contains(m, "ns/g") {
		t.Errorf("partly conflicted message %q does not name the port and the GRPCRoute", m)
	}
	conflicted := svc
	conflicted.Conflicted, conflicted.ConflictWith = true, "ns/g"
	if m := routeAccepted(conflicted).Message; !contains(m, "GRPCRoute ns/g") || !contains(m, "GEP-1294") {
		t.Errorf("conflicted message %q", m)
	}
}
