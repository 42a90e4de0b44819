package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestHasTagOrDigest(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"ghcr.io/wayfabric/waypoint", false},
		{"localhost:5000/wayfabric/waypoint", false},
		{"ghcr.io/wayfabric/waypoint:v0.1.0", true},
		{"localhost:5000/waypoint:v1", true},
		{"ghcr.io/wayfabric/waypoint@sha256:0123", true},
	} {
		if got := hasTagOrDigest(tc.ref); got != tc.want {
			t.Errorf("hasTagOrDigest(%q) = %v, want %v", tc.ref, got, tc.want)
		}
	}
}

func TestRelatedImagesPinsRepositoriesToTheRelease(t *testing.T) {
	inst := install{envs: map[string]string{
		"RELATED_IMAGE_ZTUNNEL":  "ghcr.io/wayfabric/ztunnel",
		"RELATED_IMAGE_WAYPOINT": "ghcr.io/wayfabric/waypoint@sha256:abc",
	}}
	got := relatedImages(inst, "ghcr.io/wayfabric/manager:v1.2.3", "1.2.3")
	want := []string{
		"manager=ghcr.io/wayfabric/manager:v1.2.3",
		"waypoint=ghcr.io/wayfabric/waypoint@sha256:abc",
		"ztunnel=ghcr.io/wayfabric/ztunnel:v1.2.3",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d related images, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if s := got[i].Name + "=" + got[i].Image; s != want[i] {
			t.Errorf("related image %d = %s, want %s", i, s, want[i])
		}
	}
}

func TestManifestFileName(t *testing.T) {
	obj := func(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetName(name)
		return u
	}
	for _, tc := range []struct {
		u    *unstructured.Unstructured
		want string
	}{
		{obj("v1", "Service", "wayfabric-ca", nil), "wayfabric-ca_v1_service.yaml"},
		{obj("rbac.authorization.k8s.io/v1", "ClusterRole", "wayfabric-metrics-reader", nil),
			"wayfabric-metrics-reader_rbac.authorization.k8s.io_v1_clusterrole.yaml"},
		{obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "waypoints.mesh.wayfabric.io",
			map[string]any{"group": "mesh.wayfabric.io", "names": map[string]any{"plural": "waypoints"}}),
			"mesh.wayfabric.io_waypoints.yaml"},
	} {
		if got := manifestFileName(tc.u); got != tc.want {
			t.Errorf("manifestFileName(%s) = %q, want %q", tc.u.GetName(), got, tc.want)
		}
	}
}
