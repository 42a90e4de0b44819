package image

import "testing"

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ repo, override, version, want string }{
		{"ghcr.io/wayfabric/waypoint", "", "v0.2.0", "ghcr.io/wayfabric/waypoint:v0.2.0"},
		{"registry.local:5000/waypoint", "", "v0.2.0", "registry.local:5000/waypoint:v0.2.0"},
		{"ghcr.io/wayfabric/waypoint", "mirror/waypoint:dev", "v0.2.0", "mirror/waypoint:dev"},
		{"ghcr.io/wayfabric/waypoint:pinned", "", "v0.2.0", "ghcr.io/wayfabric/waypoint:pinned"},
		{"ghcr.io/wayfabric/waypoint@sha256:abc", "", "v0.2.0", "ghcr.io/wayfabric/waypoint@sha256:abc"},
		{"ghcr.io/wayfabric/waypoint", "", "", "ghcr.io/wayfabric/waypoint"},
	} {
		if got := Resolve(tc.repo, tc.override, tc.version); got != tc.want {
			t.Errorf("Resolve(%q, %q, %q) = %q, want %q", tc.repo, tc.override, tc.version, got, tc.want)
		}
	}
}
