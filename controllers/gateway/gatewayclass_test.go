package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGatewayClassAccepted(t *testing.T) {
	for name, tc := range map[string]struct {
		params *gatewayv1.ParametersReference
		want   want
	}{
		"no parameters": {nil, want{metav1.ConditionTrue, "Accepted"}},
		"parametersRef": {&gatewayv1.ParametersReference{Group: "", Kind: "ConfigMap", Name: "x"}, want{metav1.ConditionFalse, "InvalidParameters"}},
	} {
		gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: gatewayv1.GatewayClassSpec{ControllerName: ControllerName, ParametersRef: tc.params}}
		check(t, name, gatewayClassAccepted(gc), tc.want, 3)
	}
}

func TestEqualConditions(t *testing.T) {
	base := []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "m", ObservedGeneration: 1}}
	moved := []metav1.Condition{base[0]}
	moved[0].LastTransitionTime = metav1.Now()
	for name, tc := range map[string]struct {
		b     []metav1.Condition
		equal bool
	}{
		"same":                 {base, true},
		"only transition time": {moved, true},
		"other generation":     {[]metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "m", ObservedGeneration: 2}}, false},
		"other status":         {[]metav1.Condition{{Type: "Accepted", Status: "False", Reason: "Accepted", Message: "m", ObservedGeneration: 1}}, false},
		"extra condition":      {append([]metav1.Condition{base[0]}, metav1.Condition{Type: "X"}), false},
	} {
		if got := equalConditions(base, tc.b); got != tc.equal {
			t.Errorf("%s: got %v, want %v", name, got, tc.equal)
		}
	}
}
