package v1alpha1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestResourceBoundsResourceList(t *testing.T) {
	cases := []struct {
		name       string
		bounds     *ResourceBounds
		wantCPU    string
		wantMemory string
		wantLen    int
	}{
		{"nil", nil, "", "", 0},
		{"both", &ResourceBounds{CPU: "250m", Memory: "64Mi"}, "250m", "64Mi", 2},
		{"cpu only", &ResourceBounds{CPU: "2"}, "2", "", 1},
		{"unparsable memory dropped", &ResourceBounds{CPU: "1", Memory: "lots"}, "1", "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.bounds.ResourceList()
			if len(got) != c.wantLen {
				t.Fatalf("got %d entries %v, want %d", len(got), got, c.wantLen)
			}
			if q, ok := got[corev1.ResourceCPU]; ok && q.String() != c.wantCPU || !ok && c.wantCPU != "" {
				t.Errorf("cpu = %v, want %q", got[corev1.ResourceCPU], c.wantCPU)
			}
			if q, ok := got[corev1.ResourceMemory]; ok && q.String() != c.wantMemory || !ok && c.wantMemory != "" {
				t.Errorf("memory = %v, want %q", got[corev1.ResourceMemory], c.wantMemory)
			}
		})
	}
}
