package waypoint_test

import (
	"context"
	"fmt"
	"sync/atomic"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

var nsCounter atomic.Int32

// newNamespace gives each spec its own namespace (envtest cannot delete them).
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("wp-test-%d", nsCounter.Add(1))}}
	ExpectWithOffset(1, k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func newWaypoint(ns, name string, mutate ...func(*meshv1alpha1.Waypoint)) *meshv1alpha1.Waypoint {
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, m := range mutate {
		m(wp)
	}
	return wp
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func getWaypoint(ctx context.Context, ns, name string) *meshv1alpha1.Waypoint {
	var wp meshv1alpha1.Waypoint
	ExpectWithOffset(1, k8s.Get(ctx, key(ns, name), &wp)).To(Succeed())
	return &wp
}

func condition(wp *meshv1alpha1.Waypoint, t string) metav1.Condition {
	if c := meta.FindStatusCondition(wp.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// children returns the live children, any of them nil when absent.
func children(ctx context.Context, ns, name string) map[string]client.Object {
	out := map[string]client.Object{
		"ServiceAccount": &corev1.ServiceAccount{}, "Service": &corev1.Service{},
		"Deployment": &appsv1.Deployment{}, "PodDisruptionBudget": &policyv1.PodDisruptionBudget{},
	}
	for k, obj := range out {
		if err := k8s.Get(ctx, key(ns, name), obj); err != nil {
			out[k] = nil
		}
	}
	return out
}

// resourceVersions of the Waypoint and its children, to prove nothing was written.
func resourceVersions(ctx context.Context, ns, name string) map[string]string {
	out := map[string]string{"Waypoint": getWaypoint(ctx, ns, name).ResourceVersion}
	for k, obj := range children(ctx, ns, name) {
		if obj != nil {
			out[k] = obj.GetResourceVersion()
		}
	}
	return out
}

// rollout writes the Deployment status the deployment controller would after
// a finished rollout (envtest runs no controllers).
func rollout(ctx context.Context, ns, name string, ready int32) {
	EventuallyWithOffset(1, func(g Gomega) {
		var d appsv1.Deployment
		g.Expect(k8s.Get(ctx, key(ns, name), &d)).To(Succeed())
		n := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
			ReadyReplicas: min(ready, n), AvailableReplicas: min(ready, n)}
		g.Expect(k8s.Status().Update(ctx, &d)).To(Succeed())
	}).Should(Succeed())
}

// autoscalingScale wraps the scale subresource body.
type autoscalingScale struct{ s autoscalingv1.Scale }

func (a *autoscalingScale) obj() *autoscalingv1.Scale { return &a.s }
