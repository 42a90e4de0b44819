// Package scheme builds the runtime.Scheme of every API group the manager uses.
package scheme

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// New returns a scheme with every API group the manager reads or writes:
// ours, core, apps, policy, autoscaling and Gateway API.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, // core, apps, policy, autoscaling, rbac, ...
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
		meshv1alpha1.AddToScheme,
		gatewayv1.Install, gatewayv1beta1.Install,
	} {
		utilruntime.Must(add(s))
	}
	return s
}
