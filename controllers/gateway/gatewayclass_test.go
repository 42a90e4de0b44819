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
