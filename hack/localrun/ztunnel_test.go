package main

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// make run applies the real sample, with only spec.cni added.
func TestWithCNIKeepsTheSample(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "config", "samples", ztunnelSample))
	if err != nil {
		t.Fatal(err)
	}
	out, name, err := withCNI(raw, "/c/run/cni/bin", "/c/run/cni/net.d")
	if err != nil {
		t.Fatal(err)
	}
	var sample, got meshv1alpha1.ZtunnelConfig
	if err := yaml.UnmarshalStrict(raw, &sample); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if name != sample.Name || got.Spec.CNI == nil || got.Spec.CNI.BinDir != "/c/run/cni/bin" || got.Spec.CNI.ConfDir != "/c/run/cni/net.d" {
		t.Fatalf("name %q, cni %+v", name, got.Spec.CNI)
	}
	got.Spec.CNI = sample.Spec.CNI
	a, _ := yaml.Marshal(sample)
	b, _ := yaml.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("withCNI changed more than spec.cni:\n%s\nvs\n%s", a, b)
	}
	if _, _, err := withCNI([]byte("kind: Waypoint\nmetadata: {name: x}\n"), "/b", "/c"); err == nil {
		t.Error("a manifest of another kind must be refused")
	}
}

func TestClusterDir(t *testing.T) {
	t.Setenv("WAYFABRIC_CLUSTER_DIR", "")
	if got := clusterDir("/repo"); got != "/repo/bin/cluster" {
		t.Errorf("default %q", got)
	}
	t.Setenv("WAYFABRIC_CLUSTER_DIR", "/work/cluster")
	if got := clusterDir("/repo"); got != "/work/cluster" {
		t.Errorf("relocated %q", got)
	}
	if got := rel("/repo", "/work/cluster/kubeconfig"); got != "/work/cluster/kubeconfig" {
		t.Errorf("a path outside the repository stays absolute: %q", got)
	}
	if got := rel("/repo", "/repo/bin/cluster/kubeconfig"); got != "bin/cluster/kubeconfig" {
		t.Errorf("a path inside is relative: %q", got)
	}
}
