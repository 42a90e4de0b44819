package mesh

import "testing"

func TestUseWaypoint(t *testing.T) {
	l := func(v string) map[string]string { return map[string]string{LabelUseWaypoint: v} }
	for _, tc := range []struct {
		name         string
		pod, svc, ns map[string]string
		want         string
		from         Source
	}{
		{"no label anywhere", nil, nil, map[string]string{"other": "x"}, "", ""},
		{"namespace", nil, nil, l("wp"), "wp", FromNamespace},
		{"service wins over namespace", nil, l("svc-wp"), l("ns-wp"), "svc-wp", FromService},
		{"pod wins over service and namespace", l("pod-wp"), l("svc-wp"), l("ns-wp"), "pod-wp", FromPod},
		{"service opts out of the namespace's waypoint", nil, l("none"), l("wp"), "", FromService},
		{"pod opts out of the service's waypoint", l("none"), l("wp"), nil, "", FromPod},
		{"namespace opts out", nil, nil, l("none"), "", FromNamespace},
		{"an empty value is no label", l(""), l(""), l("wp"), "wp", FromNamespace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, from := UseWaypoint(tc.pod, tc.svc, tc.ns)
			if name != tc.want || from != tc.from {
				t.Fatalf("UseWaypoint = %q from %q, want %q from %q", name, from, tc.want, tc.from)
			}
		})
	}
}

func TestEnrolled(t *testing.T) {
	l := func(v string) map[string]string { return map[string]string{LabelDataplaneMode: v} }
	for _, tc := range []struct {
		name    string
		pod, ns map[string]string
		want    bool
	}{
		{"namespace ambient", nil, l("ambient"), true},
		{"nothing", nil, nil, false},
		{"pod ambient in a plain namespace", l("ambient"), nil, true},
		{"pod opts out of an ambient namespace", l("none"), l("ambient"), false},
		{"empty pod value falls back to the namespace", l(""), l("ambient"), true},
		{"other namespace value", nil, l("sidecar"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Enrolled(tc.pod, tc.ns); got != tc.want {
				t.Fatalf("Enrolled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsNodeProxy(t *testing.T) {
	for _, tc := range []struct {
		name, ns, sa string
		want         bool
	}{
		{"a ZtunnelConfig's account in the operator namespace", "wayfabric-system", "ztunnel-default", true},
		{"the same account name elsewhere", "app", "ztunnel-default", false},
		{"another account of the operator namespace", "wayfabric-system", "wayfabric-manager", false},
		{"the bare prefix names no ZtunnelConfig", "wayfabric-system", "ztunnel-", false},
		{"prefix not at the start", "wayfabric-system", "my-ztunnel-x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsNodeProxy(tc.ns, tc.sa, DefaultNamespace); got != tc.want {
				t.Fatalf("IsNodeProxy(%q, %q) = %v, want %v", tc.ns, tc.sa, got, tc.want)
			}
		})
	}
}
