package ztunnel_test

import (
	"context"

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
