package apply

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		name       string
		have, want any
		ok         bool
	}{
		{"equal scalars", "a", "a", true},
		{"different scalars", "a", "b", false},
		{"int64 vs float64", int64(3), float64(3), true},
		{"extra keys in live are fine", map[string]any{"a": "1", "b": "2"}, map[string]any{"a": "1"}, true},
		{"missing key is drift", map[string]any{"b": "2"}, map[string]any{"a": "1"}, false},
		{"missing empty map is not drift", map[string]any{}, map[string]any{"a": map[string]any{}}, true},
		{"list items may carry defaults", []any{map[string]any{"port": int64(1), "protocol": "TCP"}}, []any{map[string]any{"port": int64(1)}}, true},
		{"list of other length is drift", []any{"a", "b"}, []any{"a"}, false},
		{"list item changed", []any{"a", "c"}, []any{"a", "b"}, false},
		{"nil live vs empty want", nil, map[string]any{}, true},
		{"nil live vs set want", nil, map[string]any{"a": "1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Contains(tc.have, tc.want); got != tc.ok {
				t.Fatalf("Contains(%v, %v) = %v, want %v", tc.have, tc.want, got, tc.ok)
			}
		})
	}
}

func TestDesiredDropsStatusAndNullsAndHashes(t *testing.T) {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"},
		Status:     appsv1.DeploymentStatus{Replicas: 3},
	}
	u, err := Desired(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Object["status"]; ok {
		t.Error("status must not be applied")
	}
	if _, ok := u.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
		t.Error("null creationTimestamp must be dropped")
	}
	h1 := u.GetAnnotations()[HashAnnotation]
	d.Spec.Replicas = new(int32(2))
	u2, err := Desired(d)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == "" || h1 == u2.GetAnnotations()[HashAnnotation] {
		t.Errorf("hash must be set and change with the spec: %q vs %q", h1, u2.GetAnnotations()[HashAnnotation])
	}
}

func TestDesiredRequiresTypeMeta(t *testing.T) {
	if _, err := Desired(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "x"}}); err == nil {
		t.Fatal("want an error for a missing apiVersion/kind")
	}
}

func TestUpToDateSeesRemovedFieldsThroughTheHash(t *testing.T) {
	withSel := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{"a": "1", "b": "2"}}}
	old, _ := Desired(withSel)
	withoutB := withSel.DeepCopy()
	delete(withoutB.Labels, "b")
	want, _ := Desired(withoutB)
	if UpToDate(old.Object, want.Object) {
		t.Fatal("a live object applied from an older desired state must not count as up to date")
	}
	if !UpToDate(want.Object, want.Object) {
		t.Fatal("an object must be up to date with itself")
	}
}
