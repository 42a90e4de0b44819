package ztunnel_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// newConfig is a ZtunnelConfig on the nodes labelled pool=<pool>. Every spec
// uses its own pool: the configs are cluster-scoped and would overlap.
func newConfig(name string, selector map[string]string) *meshv1alpha1.ZtunnelConfig {
	return &meshv1alpha1.ZtunnelConfig{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: meshv1alpha1.ZtunnelConfigSpec{NodeSelector: selector}}
}

func getConfig(ctx context.Context, name string) *meshv1alpha1.ZtunnelConfig {
	var zc meshv1alpha1.ZtunnelConfig
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: name}, &zc)).To(Succeed())
	return &zc
}

func condition(zc *meshv1alpha1.ZtunnelConfig, t string) metav1.Condition {
	if c := meta.FindStatusCondition(zc.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// children returns the live children of config name, nil when absent.
func children(ctx context.Context, name string) map[string]client.Object {
	ns := client.ObjectKey{Namespace: namespace, Name: "ztunnel-" + name}
	cluster := client.ObjectKey{Name: "wayfabric-ztunnel-" + name}
	type entry struct {
		obj client.Object
		key client.ObjectKey
	}
	all := map[string]entry{
		"ServiceAccount": {&corev1.ServiceAccount{}, ns}, "ConfigMap": {&corev1.ConfigMap{}, ns},
		"DaemonSet": {&appsv1.DaemonSet{}, ns}, "ClusterRole": {&rbacv1.ClusterRole{}, cluster},
		"ClusterRoleBinding": {&rbacv1.ClusterRoleBinding{}, cluster},
	}
	out := map[string]client.Object{}
	for k, e := range all {
		if err := k8s.Get(ctx, e.key, e.obj); err == nil {
			out[k] = e.obj
		} else {
			out[k] = nil
		}
	}
	return out
}

func daemonSet(ctx context.Context, name string) *appsv1.DaemonSet {
	d, _ := children(ctx, name)["DaemonSet"].(*appsv1.DaemonSet)
	return d
}

func resourceVersions(ctx context.Context, name string) map[string]string {
	out := map[string]string{"ZtunnelConfig": getConfig(ctx, name).ResourceVersion}
	for k, obj := range children(ctx, name) {
		if obj != nil {
			out[k] = obj.GetResourceVersion()
		}
	}
	return out
}

// rollout writes the status the DaemonSet controller would after a finished
// rollout on n nodes (envtest runs no controllers).
func rollout(ctx context.Context, name string, n int32) {
	EventuallyWithOffset(1, func(g Gomega) {
		d := daemonSet(ctx, name)
		g.Expect(d).NotTo(BeNil())
		d.Status = appsv1.DaemonSetStatus{ObservedGeneration: d.Generation, DesiredNumberScheduled: n,
			CurrentNumberScheduled: n, UpdatedNumberScheduled: n, NumberReady: n, NumberAvailable: n}
		g.Expect(k8s.Status().Update(ctx, d)).To(Succeed())
	}).Should(Succeed())
}

// ztunnelPod creates a ztunnel pod of config on node at version, as the
// DaemonSet controller would, and gives it status (envtest runs no
// kubelet: the status subresource stands in for it). It is deleted at the
// end of the spec.
func ztunnelPod(ctx context.Context, config, name, node, version string, status corev1.PodStatus) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			"app.kubernetes.io/name": "ztunnel", "app.kubernetes.io/managed-by": "wayfabric",
			"mesh.wayfabric.io/ztunnel-config": config, "app.kubernetes.io/version": version}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "ztunnel", Image: imageRepo + ":" + version}}},
	}
	ExpectWithOffset(1, k8s.Create(ctx, p)).To(Succeed())
	DeferCleanup(func(ctx context.Context) {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, p, client.GracePeriodSeconds(0)))).To(Succeed())
	})
	setPodStatus(ctx, p, status)
	return p
}

func setPodStatus(ctx context.Context, p *corev1.Pod, status corev1.PodStatus) {
	EventuallyWithOffset(1, func(g Gomega) {
		var live corev1.Pod
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), &live)).To(Succeed())
		live.Status = status
		g.Expect(k8s.Status().Update(ctx, &live)).To(Succeed())
	}).Should(Succeed())
}

// readyStatus is a running, ready ztunnel at ip.
func readyStatus(ip string) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "ztunnel", Ready: true, Image: imageRepo,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
}

// waitingStatus is a ztunnel whose container waits for reason.
func waitingStatus(reason, message string) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "ztunnel", Image: imageRepo,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}}}
}

// ztunnelEvents are the Warning events recorded for config name.
func ztunnelEvents(ctx context.Context, name string) []corev1.Event {
	var list corev1.EventList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.MatchingFields{"involvedObject.name": name})).To(Succeed())
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "ZtunnelConfig" && e.Type == corev1.EventTypeWarning {
			out = append(out, e)
		}
	}
	return out
}
