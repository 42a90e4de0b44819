package ztunnel

import (
	"maps"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestSelectorsOverlap(t *testing.T) {
	type sel = map[string]string
	for _, tc := range []struct {
		name string
		a, b sel
		want bool
	}{
		{"both empty", nil, nil, true},
		{"empty selects every node", nil, sel{"pool": "a"}, true},
		{"subset", sel{"pool": "a"}, sel{"pool": "a", "zone": "z1"}, true},
		{"disjoint keys can meet on one node", sel{"pool": "a"}, sel{"zone": "z1"}, true},
		{"same key, other value", sel{"pool": "a"}, sel{"pool": "b"}, false},
		{"one conflicting key is enough", sel{"pool": "a", "zone": "z1"}, sel{"pool": "a", "zone": "z2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelectorsOverlap(tc.a, tc.b); got != tc.want {
				t.Fatalf("SelectorsOverlap(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := SelectorsOverlap(tc.b, tc.a); got != tc.want {
				t.Fatalf("overlap must be symmetric: (%v, %v) = %v", tc.b, tc.a, got)
			}
		})
	}
}

func zc(name string, age int, sel map[string]string, deleting bool) meshv1alpha1.ZtunnelConfig {
	z := meshv1alpha1.ZtunnelConfig{ObjectMeta: metav1.ObjectMeta{Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, age, 0, time.UTC))},
		Spec: meshv1alpha1.ZtunnelConfigSpec{NodeSelector: sel}}
	if deleting {
		z.DeletionTimestamp = new(metav1.Now())
	}
	return z
}

func TestArbitrate(t *testing.T) {
	a, b := map[string]string{"pool": "a"}, map[string]string{"pool": "b"}
	for _, tc := range []struct {
		name string
		all  []meshv1alpha1.ZtunnelConfig
		want map[string]string
	}{
		{"disjoint pools both deploy", []meshv1alpha1.ZtunnelConfig{zc("x", 1, a, false), zc("y", 2, b, false)}, map[string]string{}},
		{"later one is blocked", []meshv1alpha1.ZtunnelConfig{zc("late", 2, nil, false), zc("early", 1, a, false)}, map[string]string{"late": "early"}},
		{"same age: name decides", []meshv1alpha1.ZtunnelConfig{zc("b", 1, a, false), zc("a", 1, a, false)}, map[string]string{"b": "a"}},
		{"a blocked config blocks nobody", []meshv1alpha1.ZtunnelConfig{
			zc("first", 1, a, false), zc("second", 2, nil, false), zc("third", 3, b, false),
		}, map[string]string{"second": "first"}},
		{"a config being deleted frees its nodes", []meshv1alpha1.ZtunnelConfig{zc("old", 1, nil, true), zc("new", 2, nil, false)}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Arbitrate(tc.all); !maps.Equal(got, tc.want) {
				t.Fatalf("Arbitrate = %v, want %v", got, tc.want)
			}
		})
	}
}
