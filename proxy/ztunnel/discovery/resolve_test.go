package discovery

import (
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/api/mesh"
)

var (
	ambient = map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}
)

func lbls(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func pod(ns, name, ip, sa string, l map[string]string) *Workload {
	return &Workload{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name), ServiceAccount: sa, Node: "node-a",
		IPs: []netip.Addr{netip.MustParseAddr(ip)}, Labels: l, Running: true}
}

func ep(ip, ns, podName string, ports map[string]uint16) Endpoint {
	return Endpoint{Addr: netip.MustParseAddr(ip), Pod: types.NamespacedName{Namespace: ns, Name: podName}, Ports: ports}
}

// fixture: namespace "mesh" is enrolled and uses waypoint "wp" (for
// service); namespace "plain" is not enrolled; "wl" namespace is enrolled
// and uses waypoint "wlwp" for workloads.
func fixture() Input {
	nn := func(ns, n string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: n} }
	return Input{
		Namespaces: map[string]map[string]string{
			"mesh":        lbls(mesh.LabelDataplaneMode, "ambient", mesh.LabelUseWaypoint, "wp"),
			"solo":        lbls(mesh.LabelDataplaneMode, "ambient"),
			"plain":       nil,
			"wl":          lbls(mesh.LabelDataplaneMode, "ambient", mesh.LabelUseWaypoint, "wlwp"),
			"gone":        lbls(mesh.LabelDataplaneMode, "ambient", mesh.LabelUseWaypoint, "missing"),
			"kube-system": ambient,
		},
		Workloads: []*Workload{
			pod("mesh", "web-1", "10.0.0.11", "web", nil),
			pod("mesh", "wp-1", "10.0.0.12", "wp", lbls(mesh.LabelDataplaneMode, "none")),
			pod("solo", "api-1", "10.0.0.21", "api", nil),
			pod("solo", "optout-1", "10.0.0.22", "optout", lbls(mesh.LabelDataplaneMode, "none")),
			pod("plain", "db-1", "10.0.0.31", "db", nil),
			pod("plain", "in-1", "10.0.0.32", "in", ambient),
			pod("wl", "app-1", "10.0.0.41", "app", nil),
			pod("wl", "wlwp-1", "10.0.0.42", "wlwp", lbls(mesh.LabelDataplaneMode, "none")),
			pod("gone", "x-1", "10.0.0.51", "x", nil),
			pod("kube-system", "dns-1", "10.0.0.61", "dns", nil),
			{Namespace: "plain", Name: "host", UID: "host", IPs: []netip.Addr{netip.MustParseAddr("10.0.0.99")}, HostNetwork: true, Running: true},
		},
		Services: []*Service{
			{Namespace: "mesh", Name: "web", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.1")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
			{Namespace: "mesh", Name: "wp", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.2")}, Ports: []ServicePort{{Name: "hbone", Port: 15008}}},
			{Namespace: "solo", Name: "api", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.3")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
			{Namespace: "solo", Name: "optout", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.4")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
			{Namespace: "plain", Name: "db", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.5")}, Ports: []ServicePort{{Name: "", Port: 5432}}},
			{Namespace: "solo", Name: "empty", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.6")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
			{Namespace: "mesh", Name: "web-direct", Labels: lbls(mesh.LabelUseWaypoint, "none"), ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.7")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
			{Namespace: "gone", Name: "x", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.8")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
			{Namespace: "solo", Name: "labelled", Labels: lbls(mesh.LabelUseWaypoint, "wp"), ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.9")}, Ports: []ServicePort{{Name: "http", Port: 80}}},
		},
		Endpoints: map[types.NamespacedName][]Endpoint{
			nn("mesh", "web"):        {ep("10.0.0.11", "mesh", "web-1", map[string]uint16{"http": 8080})},
			nn("mesh", "web-direct"): {ep("10.0.0.11", "mesh", "web-1", map[string]uint16{"http": 8080})},
			nn("mesh", "wp"):         {ep("10.0.0.12", "mesh", "wp-1", map[string]uint16{"hbone": 15008})},
			nn("solo", "api"):        {ep("10.0.0.21", "solo", "api-1", map[string]uint16{"http": 9090})},
			nn("solo", "optout"):     {ep("10.0.0.22", "solo", "optout-1", map[string]uint16{"http": 9090})},
			nn("plain", "db"):        {ep("10.0.0.31", "plain", "db-1", map[string]uint16{"": 5432})},
			nn("gone", "x"):          {ep("10.0.0.51", "gone", "x-1", map[string]uint16{"http": 80})},
			nn("wl", "wlwp"):         {ep("10.0.0.42", "wl", "wlwp-1", map[string]uint16{"hbone": 15008})},
		},
		Waypoints: []*Waypoint{
			{Namespace: "mesh", Name: "wp", For: ForService},
			{Namespace: "wl", Name: "wlwp", For: ForWorkload},
			{Namespace: "solo", Name: "wp", For: ForAll}, // no ready replica
		},
		ExcludedNamespaces: []string{"kube-system"},
	}
}

func TestResolve(t *testing.T) {
	s := Build(fixture())
	for _, tc := range []struct {
		name                string
		dst                 string
		kind                RouteKind
		target, proxy, peer string
		reason              string
	}{
		{"service with a waypoint goes to a waypoint replica, target stays the VIP", "10.96.0.1:80", ViaWaypoint, "10.96.0.1:80", "10.0.0.12:15008", "mesh/wp", ""},
		{"service opted out of the namespace waypoint goes to its endpoint", "10.96.0.7:80", Direct, "10.0.0.11:8080", "10.0.0.11:15008", "mesh/web", ""},
		{"pod in a service-waypoint namespace addressed directly skips the waypoint", "10.0.0.11:8080", Direct, "10.0.0.11:8080", "10.0.0.11:15008", "mesh/web", ""},
		{"enrolled service without waypoint: HBONE to the endpoint with its target port", "10.96.0.3:80", Direct, "10.0.0.21:9090", "10.0.0.21:15008", "solo/api", ""},
		{"endpoint pod opted out: plain TCP to the endpoint", "10.96.0.4:80", Passthrough, "10.0.0.22:9090", "", "", ReasonNotEnrolled},
		{"unenrolled service: plain TCP to the endpoint", "10.96.0.5:5432", Passthrough, "10.0.0.31:5432", "", "", ReasonNotEnrolled},
		{"pod enrolled by its own label in a plain namespace", "10.0.0.32:80", Direct, "10.0.0.32:80", "10.0.0.32:15008", "plain/in", ""},
		{"unenrolled pod", "10.0.0.31:5432", Passthrough, "10.0.0.31:5432", "", "", ReasonNotEnrolled},
		{"outside the cluster", "192.0.2.1:443", Passthrough, "192.0.2.1:443", "", "", ReasonNotInCluster},
		{"service without ready endpoints is refused", "10.96.0.6:80", Refuse, "10.96.0.6:80", "", "", ReasonNoEndpoint},
		{"unknown service port is refused", "10.96.0.3:81", Refuse, "10.96.0.3:81", "", "", ReasonNoPort},
		{"workload waypoint for pod-addressed traffic", "10.0.0.41:80", ViaWaypoint, "10.0.0.41:80", "10.0.0.42:15008", "wl/wlwp", ""},
		{"missing waypoint refuses instead of skipping it", "10.96.0.8:80", Refuse, "10.96.0.8:80", "", "", ReasonWaypointMissing},
		{"waypoint without ready replicas refuses", "10.96.0.9:80", Refuse, "10.96.0.9:80", "", "", ReasonWaypointNotReady},
		{"excluded namespace is never HBONE", "10.0.0.61:53", Passthrough, "10.0.0.61:53", "", "", ReasonNotEnrolled},
		{"host-network pod address is not a workload", "10.0.0.99:10250", Passthrough, "10.0.0.99:10250", "", "", ReasonNotInCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Resolve(netip.MustParseAddrPort(tc.dst))
			if r.Kind != tc.kind {
				t.Fatalf("kind = %v (%s), want %v", r.Kind, r.Reason, tc.kind)
			}
			if r.Target.String() != tc.target {
				t.Errorf("target = %v, want %v", r.Target, tc.target)
			}
			if tc.proxy != "" && r.Proxy.String() != tc.proxy {
				t.Errorf("proxy = %v, want %v", r.Proxy, tc.proxy)
			}
			if tc.peer != "" && r.Kind != Refuse && r.PeerNamespace+"/"+r.PeerServiceAccount != tc.peer {
				t.Errorf("peer = %s/%s, want %s", r.PeerNamespace, r.PeerServiceAccount, tc.peer)
			}
			if tc.reason != "" && !strings.HasPrefix(r.Reason, tc.reason) {
				t.Errorf("reason = %q, want prefix %q", r.Reason, tc.reason)
			}
		})
	}
}

func TestWaypointsFor(t *testing.T) {
	s := Build(fixture())
	key := func(ns, n string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: n} }
	for _, tc := range []struct {
		pod  types.NamespacedName
		want []types.NamespacedName
	}{
		// Backs mesh/web (namespace waypoint) and is itself in a waypoint namespace.
		{key("mesh", "web-1"), []types.NamespacedName{key("mesh", "wp")}},
		// No waypoint anywhere: any mesh identity may connect.
		{key("solo", "api-1"), nil},
		{key("wl", "app-1"), []types.NamespacedName{key("wl", "wlwp")}},
	} {
		got := s.WaypointsFor(s.Workload(tc.pod))
		if len(got) != len(tc.want) {
			t.Fatalf("%v: WaypointsFor = %v, want %v", tc.pod, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v: WaypointsFor = %v, want %v", tc.pod, got, tc.want)
			}
		}
	}
}

func TestEnrolled(t *testing.T) {
	s := Build(fixture())
	for key, want := range map[types.NamespacedName]bool{
		{Namespace: "mesh", Name: "web-1"}:        true,
		{Namespace: "mesh", Name: "wp-1"}:         false, // waypoint pods opt out
		{Namespace: "plain", Name: "in-1"}:        true,
		{Namespace: "plain", Name: "db-1"}:        false,
		{Namespace: "kube-system", Name: "dns-1"}: false, // excluded namespace
		{Namespace: "plain", Name: "host"}:        false, // host network
	} {
		if got := s.Enrolled(s.Workload(key)); got != want {
			t.Errorf("%v: Enrolled = %v, want %v", key, got, want)
		}
	}
}
