package ztunnel_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

// The status from the ztunnel pods: failures, captured pods, versions.
var _ = Describe("ZtunnelConfig status from its ztunnel pods", func() {
	It("shows failing ztunnel pods as Degraded, naming the node and what the kubelet said", func(ctx context.Context) {
		Expect(k8s.Create(ctx, newConfig("failing", map[string]string{"pool": "failing"}))).To(Succeed())
		rollout(ctx, "failing", 2)
		healthy := ztunnelPod(ctx, "failing", "ztunnel-failing-a", "node-a", defaultVersion, readyStatus("10.0.0.1"))
		broken := ztunnelPod(ctx, "failing", "ztunnel-failing-b", "node-b", "v9.9.9",
			waitingStatus("ImagePullBackOff", `Back-off pulling image "ghcr.io/wayfabric/ztunnel:v9.9.9"`))

		degraded := func(reason string, has ...string) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				c := condition(getConfig(ctx, "failing"), meshv1alpha1.ConditionDegraded)
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
				g.Expect(c.Reason).To(Equal(reason))
				for _, h := range has {
					g.Expect(c.Message).To(ContainSubstring(h))
				}
			}).Should(Succeed())
		}
		By("an image that cannot be pulled")
		degraded(ztunnel.ReasonImagePullFailed, "node node-b", `ImagePullBackOff: Back-off pulling image "ghcr.io/wayfabric/ztunnel:v9.9.9"`, "ztunnel-failing-b")
		Eventually(func() []corev1.Event { return ztunnelEvents(ctx, "failing") }).Should(ContainElement(
			HaveField("Reason", ztunnel.ReasonImagePullFailed)), "a Warning event tells the story in kubectl describe")

		By("a crash loop, with the exit code and the end of the log")
		crashing := waitingStatus("CrashLoopBackOff", "back-off 10s restarting failed container=ztunnel")
		crashing.ContainerStatuses[0].RestartCount = 3
		crashing.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", Message: "ztunnel: CA unreachable: dial tcp 10.248.0.9:15012: i/o timeout\n"}
		setPodStatus(ctx, broken, crashing)
		degraded(ztunnel.ReasonCrashLoopBackOff, "node node-b", "exit code 1 (Error)", "CA unreachable")

		By("a container that cannot be created")
		setPodStatus(ctx, broken, waitingStatus("CreateContainerConfigError", `configmap "ztunnel-failing" not found`))
		degraded(ztunnel.ReasonCreateContainerFailed, "node node-b", `configmap "ztunnel-failing" not found`)

		By("a pod the scheduler cannot place, named after the node it is for")
		Expect(k8s.Delete(ctx, broken, client.GracePeriodSeconds(0))).To(Succeed())
		pending := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "ztunnel-failing-c", Namespace: namespace, Labels: healthy.Labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ztunnel", Image: imageRepo}},
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
						{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-c"}}}}}}}}},
		}
		Expect(k8s.Create(ctx, pending)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { _ = k8s.Delete(ctx, pending, client.GracePeriodSeconds(0)) })
		setPodStatus(ctx, pending, corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/3 nodes are available: 1 Insufficient memory."}}})
		degraded(ztunnel.ReasonUnschedulable, "node node-c", "Insufficient memory")

		By("once every pod runs, Degraded clears")
		Expect(k8s.Delete(ctx, pending, client.GracePeriodSeconds(0))).To(Succeed())
		Eventually(func() string {
			return condition(getConfig(ctx, "failing"), meshv1alpha1.ConditionDegraded).Reason
		}).Should(Equal(ztunnel.ReasonAsExpected))
	})

	It("sums the pods the ready ztunnels capture, keeps the count fresh, and counts nodes per version", func(ctx context.Context) {
		Expect(k8s.Create(ctx, newConfig("counted", map[string]string{"pool": "counted"}))).To(Succeed())
		rollout(ctx, "counted", 3)
		// n1 and n2 on v0.1.0; n3 in the middle of its upgrade to v0.2.0
		// (the old ztunnel handed over and drains, the new one serves).
		ztunnelPod(ctx, "counted", "zt-counted-1", "n1", "v0.1.0", readyStatus("10.0.1.1"))
		ztunnelPod(ctx, "counted", "zt-counted-2", "n2", "v0.1.0", readyStatus("10.0.1.2"))
		draining := readyStatus("10.0.1.3")
		draining.Conditions[0].Status = corev1.ConditionFalse
		ztunnelPod(ctx, "counted", "zt-counted-3", "n3", "v0.1.0", draining)
		ztunnelPod(ctx, "counted", "zt-counted-4", "n3", "v0.2.0", readyStatus("10.0.1.4"))
		nodeStatus.set("zt-counted-1", ztunnelstatus.Status{Node: "n1", Ready: true, CapturedPods: 3})
		nodeStatus.set("zt-counted-2", ztunnelstatus.Status{Node: "n2", Ready: true, CapturedPods: 4})
		nodeStatus.set("zt-counted-3", ztunnelstatus.Status{Node: "n3", Ready: true, Draining: true, CapturedPods: 5})
		nodeStatus.set("zt-counted-4", ztunnelstatus.Status{Node: "n3", Ready: true, CapturedPods: 5})

		Eventually(func(g Gomega) {
			st := getConfig(ctx, "counted").Status
			g.Expect(st.CapturedPods).To(BeEquivalentTo(12))
			g.Expect(st.Versions).To(Equal([]meshv1alpha1.ZtunnelVersionStatus{
				{Version: "v0.1.0", Nodes: 3, ReadyNodes: 2, CapturedPods: 7},
				{Version: "v0.2.0", Nodes: 1, ReadyNodes: 1, CapturedPods: 5},
			}))
		}).Should(Succeed())

		By("a ztunnel captures more pods: no pod changes, the periodic refresh sees it")
		nodeStatus.set("zt-counted-1", ztunnelstatus.Status{Node: "n1", Ready: true, CapturedPods: 30})
		Eventually(func() int32 { return getConfig(ctx, "counted").Status.CapturedPods }).
			WithTimeout(10 * statusRefresh).Should(BeEquivalentTo(39))
	})

	It("canaries a version on one node pool's ZtunnelConfig without touching the other pool", func(ctx context.Context) {
		// The documented flow (docs/install.md): one ZtunnelConfig per node
		// pool, disjoint selectors; the canary pool gets the new version first.
		Expect(k8s.Create(ctx, newConfig("pool-main", map[string]string{"pool": "mesh-main"}))).To(Succeed())
		canary := newConfig("pool-canary", map[string]string{"pool": "mesh-canary"})
		Expect(k8s.Create(ctx, canary)).To(Succeed())
		Eventually(func(g Gomega) {
			for _, name := range []string{"pool-main", "pool-canary"} {
				g.Expect(daemonSet(ctx, name)).NotTo(BeNil())
				g.Expect(condition(getConfig(ctx, name), meshv1alpha1.ConditionDegraded).Reason).To(Equal(ztunnel.ReasonAsExpected))
			}
		}).Should(Succeed())
		mainBefore := daemonSet(ctx, "pool-main")

		canary = getConfig(ctx, "pool-canary")
		canary.Spec.Version = "v0.2.0"
		Expect(k8s.Update(ctx, canary)).To(Succeed())
		Eventually(func(g Gomega) {
			d := daemonSet(ctx, "pool-canary")
			g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(imageRepo + ":v0.2.0"))
			g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("app.kubernetes.io/version", "v0.2.0"))
		}).Should(Succeed())
		mainAfter := daemonSet(ctx, "pool-main")
		Expect(mainAfter.Generation).To(Equal(mainBefore.Generation), "the main pool's DaemonSet must not roll")
		Expect(mainAfter.Spec.Template.Labels).To(HaveKeyWithValue("app.kubernetes.io/version", defaultVersion))

		By("each pool's status shows the versions its nodes run")
		rollout(ctx, "pool-canary", 1)
		ztunnelPod(ctx, "pool-canary", "zt-canary-1", "canary-1", "v0.2.0", readyStatus("10.0.2.1"))
		ztunnelPod(ctx, "pool-main", "zt-main-1", "main-1", defaultVersion, readyStatus("10.0.2.2"))
		Eventually(func(g Gomega) {
			g.Expect(getConfig(ctx, "pool-canary").Status.Versions).To(Equal([]meshv1alpha1.ZtunnelVersionStatus{
				{Version: "v0.2.0", Nodes: 1, ReadyNodes: 1}}))
			g.Expect(getConfig(ctx, "pool-main").Status.Versions).To(Equal([]meshv1alpha1.ZtunnelVersionStatus{
				{Version: defaultVersion, Nodes: 1, ReadyNodes: 1}}))
		}).Should(Succeed())
	})
})
