package meta

import (
	"maps"
	"testing"
)

func TestMergeLaterWins(t *testing.T) {
	got := Merge(map[string]string{"a": "1", "b": "1"}, nil, map[string]string{"b": "2"})
	if want := map[string]string{"a": "1", "b": "2"}; !maps.Equal(got, want) {
		t.Fatalf("Merge = %v, want %v", got, want)
	}
}

func TestOperatorNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "mesh")
	if got := OperatorNamespace(""); got != DefaultNamespace {
		t.Errorf("no config: %q (the environment is cmd/'s to read)", got)
	}
	if got := OperatorNamespace("explicit"); got != "explicit" {
		t.Errorf("explicit: %q", got)
	}
	if got := CAAddress("mesh"); got != "wayfabric-ca.mesh.svc:15012" {
		t.Errorf("CAAddress = %q", got)
	}
}
