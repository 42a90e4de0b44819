package autoscaling_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

var nsCounter atomic.Int32

// newNamespace gives each spec its own namespace (envtest cannot delete them).
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("as-test-%d", nsCounter.Add(1))}}
	ExpectWithOffset(1, k8s.Create(ctx, ns)).To(Succeed())
	DeferCleanup(dumpOnFailure, ns.Name)
	return ns.Name
}

// dumpOnFailure prints the events and Waypoint status of a failed spec's
// namespace: the autoscaler explains itself there.
func dumpOnFailure(ctx context.Context, ns string) {
	if !CurrentSpecReport().Failed() {
		return
	}
	var evs corev1.EventList
	_ = k8s.List(ctx, &evs, client.InNamespace(ns))
	for _, e := range evs.Items {
		GinkgoWriter.Printf("event %s/%s %s %s: %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.Reason, e.Message)
	}
	var wps meshv1alpha1.WaypointList
	_ = k8s.List(ctx, &wps, client.InNamespace(ns))
	for _, wp := range wps.Items {
		GinkgoWriter.Printf("waypoint %s status: %+v\n", wp.Name, wp.Status)
	}
}

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func getWaypoint(ctx context.Context, g Gomega, ns, name string) *meshv1alpha1.Waypoint {
	var wp meshv1alpha1.Waypoint
	g.ExpectWithOffset(1, k8s.Get(ctx, key(ns, name), &wp)).To(Succeed())
	return &wp
}

func condition(wp *meshv1alpha1.Waypoint, t string) metav1.Condition {
	if c := meta.FindStatusCondition(wp.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// horizontalSpec is horizontal autoscaling on Concurrency with a target of
// 10 per replica (7 at the default 70% utilization).
func horizontalSpec(minReplicas, maxReplicas int32) *meshv1alpha1.HorizontalAutoscaling {
	// The windows are structs, so a Go client always sends them: set the
	// CRD defaults explicitly.
	return &meshv1alpha1.HorizontalAutoscaling{MinReplicas: minReplicas, MaxReplicas: maxReplicas,
		Metric: meshv1alpha1.MetricConcurrency, Target: 10,
		StableWindow: &metav1.Duration{Duration: time.Minute}, PanicWindow: &metav1.Duration{Duration: 6 * time.Second}}
}

func deploymentReplicas(ctx context.Context, ns, name string) int32 {
	var d appsv1.Deployment
	if err := k8s.Get(ctx, key(ns, name), &d); err != nil || d.Spec.Replicas == nil {
		return -1
	}
	return *d.Spec.Replicas
}

// rollout writes the Deployment status the deployment controller would
// after a finished rollout (envtest runs no controllers), so vertical
// changes are not deferred as Busy.
func rollout(ctx context.Context, ns, name string) {
	EventuallyWithOffset(1, func(g Gomega) {
		var d appsv1.Deployment
		g.Expect(k8s.Get(ctx, key(ns, name), &d)).To(Succeed())
		n := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		g.Expect(k8s.Status().Update(ctx, &d)).To(Succeed())
	}).Should(Succeed())
}

// ensureNode creates the node the test pods run on: the API server checks
// that a resized pod's node exists.
func ensureNode(ctx context.Context) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	if err := k8s.Create(ctx, n); err != nil {
		ExpectWithOffset(1, apierrors.IsAlreadyExists(err)).To(BeTrue(), "creating node: %v", err)
		return
	}
	n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")}
	n.Status.Allocatable = n.Status.Capacity
	ExpectWithOffset(1, k8s.Status().Update(ctx, n)).To(Succeed())
}

// runningPod creates a waypoint pod and writes the status a kubelet would
// (Running, Ready, with an IP).
func runningPod(ctx context.Context, ns, wp, name, ip string, res corev1.ResourceRequirements) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{meshv1alpha1.LabelWaypoint: wp}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "waypoint", Image: "ghcr.io/wayfabric/waypoint:v0.1.0", Resources: res,
		}}},
	}
	ensureNode(ctx)
	ExpectWithOffset(1, k8s.Create(ctx, p)).To(Succeed())
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	ExpectWithOffset(1, k8s.Status().Update(ctx, p)).To(Succeed())
	return p
}

// events returns the events about a Waypoint with the given reason.
func events(ctx context.Context, g Gomega, ns, name, reason string) []corev1.Event {
	var list corev1.EventList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.InvolvedObject.Kind == "Waypoint" && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}
