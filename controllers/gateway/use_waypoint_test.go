package gateway

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

func TestServiceWaypoint(t *testing.T) {
	l := func(v string) map[string]string { return map[string]string{meshv1alpha1.LabelUseWaypoint: v} }
	for name, tc := range map[string]struct {
		svc, ns map[string]string
		want    string
	}{
		"none anywhere":               {nil, nil, ""},
		"namespace label":             {nil, l("ns-wp"), "ns-wp"},
		"service label":               {l("svc-wp"), nil, "svc-wp"},
		"service label wins":          {l("svc-wp"), l("ns-wp"), "svc-wp"},
		"service opts out":            {l("none"), l("ns-wp"), ""},
		"empty service label ignored": {l(""), l("ns-wp"), "ns-wp"},
		"namespace none":              {nil, l("none"), ""},
	} {
		got, why := serviceWaypoint(tc.svc, tc.ns)
		if got != tc.want || why == "" {
			t.Errorf("%s: got %q (%q), want %q", name, got, why, tc.want)
		}
	}
}

func TestServicePortMismatch(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "admin", Port: 9000}}}}
	s := func(v string) *string { return &v }
	p := func(v int32) *int32 { return &v }
	for name, tc := range map[string]struct {
		section *string
		port    *int32
		match   bool
	}{
		"whole service":       {nil, nil, true},
		"port 80":             {nil, p(80), true},
		"port 81":             {nil, p(81), false},
		"name http":           {s("http"), nil, true},
		"name grpc":           {s("grpc"), nil, false},
		"name and port":       {s("admin"), p(9000), true},
		"name and wrong port": {s("admin"), p(80), false},
	} {
		if got := servicePortMismatch(svc, tc.section, tc.port); (got == "") != tc.match {
			t.Errorf("%s: mismatch %q, want match=%v", name, got, tc.match)
		}
	}
}
