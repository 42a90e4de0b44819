package membership

import "testing"

func TestEnrolled(t *testing.T) {
	amb := map[string]string{LabelDataplaneMode: DataplaneAmbient}
	none := map[string]string{LabelDataplaneMode: DataplaneNone}
	other := map[string]string{LabelDataplaneMode: "sidecar"}
	for _, tc := range []struct {
		name     string
		pod, ns  map[string]string
		enrolled bool
	}{
		{"namespace enrolls", nil, amb, true},
		{"pod enrolls in a plain namespace", amb, nil, true},
		{"pod opts out of an enrolled namespace", none, amb, false},
		{"unknown pod value keeps it out", other, amb, false},
		{"nothing labelled", nil, nil, false},
		{"unknown namespace value", nil, other, false},
	} {
		if got := Enrolled(tc.pod, tc.ns); got != tc.enrolled {
			t.Errorf("%s: Enrolled = %v, want %v", tc.name, got, tc.enrolled)
		}
	}
}

func TestWaypoint(t *testing.T) {
	use := func(v string) map[string]string { return map[string]string{LabelUseWaypoint: v} }
	for _, tc := range []struct {
		name    string
		own, ns map[string]string
		want    string
	}{
		{"namespace default", nil, use("ns-wp"), "ns-wp"},
		{"own label wins", use("svc-wp"), use("ns-wp"), "svc-wp"},
		{"own none opts out", use(UseWaypointNone), use("ns-wp"), ""},
		{"namespace none", nil, use(UseWaypointNone), ""},
		{"no labels", nil, nil, ""},
	} {
		if got := Waypoint(tc.own, tc.ns); got != tc.want {
			t.Errorf("%s: Waypoint = %q, want %q", tc.name, got, tc.want)
		}
	}
}
