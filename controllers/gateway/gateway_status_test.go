package gateway

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// want is the part of a condition the tables check.
type want struct {
	status metav1.ConditionStatus
	reason string
}

func check(t *testing.T, name string, got metav1.Condition, w want, gen int64) {
	t.Helper()
	if got.Status != w.status || got.Reason != w.reason {
		t.Errorf("%s: got %s/%s (%q), want %s/%s", name, got.Status, got.Reason, got.Message, w.status, w.reason)
	}
	if got.ObservedGeneration != gen {
		t.Errorf("%s: observedGeneration %d, want %d", name, got.ObservedGeneration, gen)
	}
	if got.Message == "" {
		t.Errorf("%s: empty message", name)
	}
}

func TestGatewayAccepted(t *testing.T) {
	for name, tc := range map[string]struct {
		f    gatewayFacts
		want want
	}{
		"valid":              {gatewayFacts{ValidListeners: 1}, want{metav1.ConditionTrue, "Accepted"}},
		"some invalid":       {gatewayFacts{ValidListeners: 1, InvalidListeners: 1}, want{metav1.ConditionTrue, "ListenersNotValid"}},
		"none valid":         {gatewayFacts{InvalidListeners: 2}, want{metav1.ConditionFalse, "ListenersNotValid"}},
		"foreign waypoint":   {gatewayFacts{ValidListeners: 1, Conflict: "taken"}, want{metav1.ConditionFalse, "Invalid"}},
		"bad waypoint-for":   {gatewayFacts{ValidListeners: 1, InvalidFor: "bad label"}, want{metav1.ConditionFalse, "Invalid"}},
		"addresses asked":    {gatewayFacts{ValidListeners: 1, RequestedAddresses: true}, want{metav1.ConditionFalse, "UnsupportedAddress"}},
		"class not accepted": {gatewayFacts{ValidListeners: 1, ClassRejected: "parametersRef"}, want{metav1.ConditionFalse, "Invalid"}},
		"conflict wins over": {gatewayFacts{InvalidListeners: 1, Conflict: "taken"}, want{metav1.ConditionFalse, "Invalid"}},
	} {
		tc.f.Generation = 7
		check(t, name, gatewayAccepted(tc.f), tc.want, 7)
	}
}

func TestGatewayProgrammed(t *testing.T) {
	accepted := metav1.Condition{Status: metav1.ConditionTrue}
	wp := func(gen int64, conds ...metav1.Condition) *meshv1alpha1.Waypoint {
		return &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Name: "wp", Generation: gen}, Status: meshv1alpha1.WaypointStatus{Conditions: conds}}
	}
	ready := func(s metav1.ConditionStatus, gen int64) metav1.Condition {
		return metav1.Condition{Type: meshv1alpha1.ConditionReady, Status: s, ObservedGeneration: gen, Message: "2/2 replicas"}
	}
	for name, tc := range map[string]struct {
		accepted metav1.Condition
		wp       *meshv1alpha1.Waypoint
		want     want
		contains string
	}{
		"not accepted":       {metav1.Condition{Status: metav1.ConditionFalse, Message: "x"}, wp(1, ready(metav1.ConditionTrue, 1)), want{metav1.ConditionFalse, "Invalid"}, ""},
		"no waypoint yet":    {accepted, nil, want{metav1.ConditionFalse, "Pending"}, ""},
		"no Ready condition": {accepted, wp(1), want{metav1.ConditionFalse, "Pending"}, ""},
		"ready":              {accepted, wp(1, ready(metav1.ConditionTrue, 1)), want{metav1.ConditionTrue, "Programmed"}, "2/2 replicas"},
		"not ready":          {accepted, wp(1, ready(metav1.ConditionFalse, 1)), want{metav1.ConditionFalse, "Pending"}, "2/2 replicas"},
		"ready but stale":    {accepted, wp(2, ready(metav1.ConditionTrue, 1)), want{metav1.ConditionFalse, "Pending"}, "latest spec"},
	} {
		c := gatewayProgrammed(tc.accepted, tc.wp, 5)
		check(t, name, c, tc.want, 5)
		if tc.contains != "" && !contains(c.Message, tc.contains) {
			t.Errorf("%s: message %q lacks %q", name, c.Message, tc.contains)
		}
	}
}

func TestGatewayAddresses(t *testing.T) {
	svc := func(ip string, ips ...string) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: ips}}
	}
	for name, tc := range map[string]struct {
		svc  *corev1.Service
		want []string
	}{
		"no service": {nil, nil},
		"single":     {svc("10.0.0.1"), []string{"10.0.0.1"}},
		"dual stack": {svc("10.0.0.1", "10.0.0.1", "fd00::1"), []string{"10.0.0.1", "fd00::1"}},
		"headless":   {svc("None", "None"), nil},
	} {
		got := gatewayAddresses(tc.svc)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: got %v, want %v", name, got, tc.want)
		}
		for i := range got {
			if got[i].Value != tc.want[i] || *got[i].Type != gatewayv1.IPAddressType {
				t.Errorf("%s: address %d = %v, want IPAddress %s", name, i, got[i], tc.want[i])
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
