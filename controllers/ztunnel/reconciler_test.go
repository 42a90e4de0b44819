package ztunnel_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

var _ = Describe("ZtunnelConfig reconciler", func() {
	ctx := context.Background()

	It("deploys the ztunnels with their identity, permissions and configuration, and reports status", func() {
		Expect(k8s.Create(ctx, newConfig("build", map[string]string{"pool": "build"}))).To(Succeed())
		zc := getConfig(ctx, "build")
		Eventually(func(g Gomega) {
			for kind, obj := range children(ctx, "build") {
				g.Expect(obj).NotTo(BeNil(), kind)
				g.Expect(metav1.IsControlledBy(obj, zc)).To(BeTrue(), kind+" must be controlled by the ZtunnelConfig")
			}
		}).Should(Succeed())
		d := daemonSet(ctx, "build")
		Expect(d.Spec.Template.Spec.NodeSelector).To(HaveKeyWithValue("pool", "build"))
		Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(imageRepo + ":" + defaultVersion))

		Eventually(func(g Gomega) {
			zc := getConfig(ctx, "build")
			g.Expect(zc.Status.ObservedGeneration).To(Equal(zc.Generation))
			g.Expect(zc.Status.Version).To(Equal(defaultVersion))
			g.Expect(condition(zc, meshv1alpha1.ConditionProgressing).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(condition(zc, meshv1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())

		rollout(ctx, "build", 3)
		Eventually(func(g Gomega) {
			zc := getConfig(ctx, "build")
			g.Expect([]int32{zc.Status.DesiredNodes, zc.Status.ReadyNodes, zc.Status.UpdatedNodes}).To(Equal([]int32{3, 3, 3}))
			g.Expect(condition(zc, meshv1alpha1.ConditionReady).Reason).To(Equal(ztunnel.ReasonAllNodesReady))
			g.Expect(condition(zc, meshv1alpha1.ConditionProgressing).Reason).To(Equal(ztunnel.ReasonComplete))
		}).Should(Succeed())

		zc = getConfig(ctx, "build")
		zc.Spec.Version = "v0.2.0"
		Expect(k8s.Update(ctx, zc)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(daemonSet(ctx, "build").Spec.Template.Spec.Containers[0].Image).To(Equal(imageRepo + ":v0.2.0"))
			zc := getConfig(ctx, "build")
			g.Expect(zc.Status.Version).To(Equal("v0.2.0"))
			g.Expect(condition(zc, meshv1alpha1.ConditionProgressing).Reason).To(Equal(ztunnel.ReasonRollingOut))
		}).Should(Succeed())
	})

	It("blocks the later of two overlapping configs and deploys nothing for it", func() {
		Expect(k8s.Create(ctx, newConfig("early", map[string]string{"pool": "ov"}))).To(Succeed())
		Eventually(func() any { return daemonSet(ctx, "early") }).ShouldNot(BeNil())
		// A subset of early's nodes: could select a common node.
		Expect(k8s.Create(ctx, newConfig("late", map[string]string{"pool": "ov", "zone": "z1"}))).To(Succeed())

		blocked := func(g Gomega) {
			zc := getConfig(ctx, "late")
			c := condition(zc, meshv1alpha1.ConditionDegraded)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(ztunnel.ReasonOverlap))
			g.Expect(c.Message).To(ContainSubstring(`"early"`))
			g.Expect(condition(zc, meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(children(ctx, "late")).To(HaveEach(BeNil()), "a blocked config deploys nothing")
		}
		Eventually(blocked).Should(Succeed())
		Consistently(blocked, 2*time.Second).Should(Succeed())
		Expect(condition(getConfig(ctx, "early"), meshv1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))

		By("making the selectors disjoint, the later config deploys")
		late := getConfig(ctx, "late")
		late.Spec.NodeSelector = map[string]string{"pool": "ov-other"}
		Expect(k8s.Update(ctx, late)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(daemonSet(ctx, "late")).NotTo(BeNil())
			g.Expect(condition(getConfig(ctx, "late"), meshv1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())

		By("overlapping again, what it deployed is removed")
		late = getConfig(ctx, "late")
		late.Spec.NodeSelector = map[string]string{"pool": "ov", "zone": "z2"} // a subset of early again
		Expect(k8s.Update(ctx, late)).To(Succeed())
		Eventually(blocked).Should(Succeed())

		By("deleting the earlier config, the later one takes over")
		Expect(k8s.Delete(ctx, getConfig(ctx, "early"))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(daemonSet(ctx, "late")).NotTo(BeNil())
			g.Expect(condition(getConfig(ctx, "late"), meshv1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())
		Expect(k8s.Delete(ctx, getConfig(ctx, "late"))).To(Succeed())
	})

	It("repairs deleted and edited children", func() {
		Expect(k8s.Create(ctx, newConfig("drift", map[string]string{"pool": "drift"}))).To(Succeed())
		Eventually(func() map[string]client.Object { return children(ctx, "drift") }).ShouldNot(ContainElement(BeNil()))

		for _, kind := range []string{"ConfigMap", "ClusterRoleBinding", "ClusterRole", "ServiceAccount"} {
			old := children(ctx, "drift")[kind]
			Expect(k8s.Delete(ctx, old)).To(Succeed())
			Eventually(func(g Gomega) {
				now := children(ctx, "drift")[kind]
				g.Expect(now).NotTo(BeNil(), kind)
				g.Expect(now.GetUID()).NotTo(Equal(old.GetUID()), kind)
			}).Should(Succeed())
		}

		d := daemonSet(ctx, "drift")
		c := &d.Spec.Template.Spec.Containers[0]
		c.Image = "evil/ztunnel:latest"
		c.SecurityContext.Capabilities.Add = append(c.SecurityContext.Capabilities.Add, "SYS_MODULE")
		Expect(k8s.Update(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			c := daemonSet(ctx, "drift").Spec.Template.Spec.Containers[0]
			g.Expect(c.Image).To(Equal(imageRepo + ":" + defaultVersion))
			g.Expect(c.SecurityContext.Capabilities.Add).To(ConsistOf(BeEquivalentTo("NET_ADMIN"), BeEquivalentTo("SYS_ADMIN"), BeEquivalentTo("SYS_PTRACE")))
		}).Should(Succeed())
	})

	noWrites := func(zc *meshv1alpha1.ZtunnelConfig) {
		name := zc.Name
		Expect(k8s.Create(ctx, zc)).To(Succeed())
		Eventually(func() map[string]client.Object { return children(ctx, name) }).ShouldNot(ContainElement(BeNil()))
		rollout(ctx, name, 2)
		Eventually(func() metav1.ConditionStatus {
			return condition(getConfig(ctx, name), meshv1alpha1.ConditionReady).Status
		}).Should(Equal(metav1.ConditionTrue))
		before := resourceVersions(ctx, name)
		Consistently(func() map[string]string { return resourceVersions(ctx, name) }, 2*time.Second).Should(Equal(before))

		counting, writes := testutil.Counting(env.Mgr.GetClient())
		r := newReconciler(env.Mgr, counting)
		for range 2 {
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(writes.List()).To(BeEmpty())
		Expect(resourceVersions(ctx, name)).To(Equal(before))
	}

	It("makes no write when reconciling an unchanged ZtunnelConfig", func() {
		noWrites(newConfig("idem", map[string]string{"pool": "idem"}))
	})

	It("makes no write when reconciling an unchanged, fully specified ZtunnelConfig", func() {
		zc := newConfig("idem-full", map[string]string{"pool": "idem-full", corev1.LabelOSStable: "linux"})
		zc.Spec = meshv1alpha1.ZtunnelConfigSpec{
			Version: "v1.2.3", Image: "mirror.local/ztunnel:custom", NodeSelector: zc.Spec.NodeSelector,
			Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh", Effect: corev1.TaintEffectNoSchedule}},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("0.1"), corev1.ResourceMemory: resource.MustParse("32Mi")}},
			TrustDomain: "prod.example.com",
			Capture: &meshv1alpha1.CaptureSettings{Mode: meshv1alpha1.CaptureInPod, ExcludeInboundPorts: []int32{9090},
				ExcludeOutboundPorts: []int32{5432}, ExcludeOutboundCIDRs: []string{"169.254.169.254/32"}},
			ExcludedNamespaces: []string{"kube-system", "monitoring"},
			Upgrade: &meshv1alpha1.ZtunnelUpgrade{MaxSurge: new(intstr.FromInt32(0)), MaxUnavailable: new(intstr.FromString("10%")),
				DrainSeconds: new(int32(60))},
			LogLevel: "debug",
		}
		noWrites(zc)
	})
})
