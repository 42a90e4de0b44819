package main

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func ztunnelConfig(name string, selector map[string]any, deleting bool) unstructured.Unstructured {
	u := unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"nodeSelector": selector}}}
	u.SetName(name)
	if deleting {
		u.SetDeletionTimestamp(new(metav1.Now()))
	}
	return u
}

func TestLeavingNode(t *testing.T) {
	node := map[string]string{"kubernetes.io/os": "linux", "pool": "canary"}
	cases := []struct {
		name    string
		configs []unstructured.Unstructured
		leaving bool
	}{
		{"a restart: the config still selects the node", []unstructured.Unstructured{ztunnelConfig("main", nil, false)}, false},
		{"the config is gone", nil, true},
		{"the config is being deleted", []unstructured.Unstructured{ztunnelConfig("main", nil, true)}, true},
		{"the node left the config's pool, for no other", []unstructured.Unstructured{ztunnelConfig("main", map[string]any{"pool": "main"}, false)}, true},
		{"the node moved to another config's pool: its ztunnel adopts the pods, nothing goes plaintext", []unstructured.Unstructured{
			ztunnelConfig("main", map[string]any{"pool": "main"}, false), ztunnelConfig("canary", map[string]any{"pool": "canary"}, false)}, false},
		{"another config selects the node but is being deleted too", []unstructured.Unstructured{
			ztunnelConfig("main", nil, true), ztunnelConfig("canary", map[string]any{"pool": "canary"}, true)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := leavingNode("main", tc.configs, node)
			if got != tc.leaving || why == "" {
				t.Fatalf("leaving = %v (%s), want %v", got, why, tc.leaving)
			}
		})
	}
}
