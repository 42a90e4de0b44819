package autoscaling_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
)

var _ = Describe("Horizontal autoscaling on injected load", func() {
	It("moves status.desiredReplicas, the Deployment, status.load and the conditions, with an event", func(ctx context.Context) {
		ns := newNamespace(ctx)
		k := key(ns, "wp")
		source.set(k, replicas(1, 5, 50))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontalSpec(1, 5)}}})).To(Succeed())

		By("steady load within one replica's target")
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(1)))
			g.Expect(condition(wp, meshv1alpha1.ConditionScalingActive).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(condition(wp, meshv1alpha1.ConditionScalingLimited).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(condition(wp, meshv1alpha1.ConditionReady).Type).NotTo(BeEmpty(), "the reconciler's conditions stay")
			l := wp.Status.Load
			g.Expect(l).NotTo(BeNil())
			g.Expect(l.ReportingReplicas).To(Equal(int32(1)))
			g.Expect(l.RequestsPerSecond).To(Equal(int64(50)))
			g.Expect(l.Concurrency.String()).To(Equal("5"))
			g.Expect(l.P99Latency.Duration).To(Equal(30 * time.Millisecond))
			g.Expect(l.MemoryPerReplica.String()).To(Equal("96Mi"))
		}).Should(Succeed())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(1)))

		By("a step x10: panic mode asks for 8 replicas, maxReplicas holds it at 5")
		source.set(k, replicas(1, 50, 500))
		start := time.Now()
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(5)))
			g.Expect(condition(wp, meshv1alpha1.ConditionScalingActive).Reason).To(Equal("Panic"))
			limited := condition(wp, meshv1alpha1.ConditionScalingLimited)
			g.Expect(limited.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(limited.Reason).To(Equal("MaxReplicas"))
			g.Expect(limited.Message).To(ContainSubstring("asks for 8 replicas; maxReplicas holds the desired count at 5"))
		}).Should(Succeed())
		AddReportEntry("step x10 to status.desiredReplicas (wall clock, envtest)", time.Since(start).String())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(5)), "the Waypoint reconciler follows status.desiredReplicas")

		Eventually(func(g Gomega) {
			evs := events(ctx, g, ns, "wp", "Panic")
			g.Expect(evs).NotTo(BeEmpty())
			g.Expect(evs[0].Type).To(Equal(corev1.EventTypeNormal))
			g.Expect(evs[0].Message).To(ContainSubstring("Panic mode"))
			g.Expect(evs[0].Message).To(ContainSubstring("from 1 of 1 ready replicas"))
		}).Should(Succeed())
		Expect(gauge("wayfabric_autoscaler_desired_replicas", ns, "wp")).To(Equal(5.0))
		Expect(counter("wayfabric_autoscaler_decisions_total", ns, "wp", "direction", "up")).To(BeNumerically(">=", 1))
	})

	It("holds the count while no replica answers, and says so", func(ctx context.Context) {
		ns := newNamespace(ctx)
		k := key(ns, "wp")
		source.set(k, replicas(3, 6, 60))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontalSpec(3, 6)}}})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getWaypoint(ctx, g, ns, "wp").Status.DesiredReplicas).To(Equal(int32(3)))
		}).Should(Succeed())

		source.set(k, collector.Snapshot{Ready: 3, Missing: 3})
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			active := condition(wp, meshv1alpha1.ConditionScalingActive)
			g.Expect(active.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(active.Reason).To(Equal("NoMetrics"))
			g.Expect(active.Message).To(ContainSubstring("never a reason to scale down"))
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(3)))
			g.Expect(wp.Status.Load.ReportingReplicas).To(BeZero())
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(getWaypoint(ctx, g, ns, "wp").Status.DesiredReplicas).To(Equal(int32(3)))
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
	})

	It("starts safe: a fleet taken over without history is not scaled below its running replicas", func(ctx context.Context) {
		ns := newNamespace(ctx)
		k := key(ns, "wp")
		source.set(k, replicas(4, 1, 10))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Replicas: new(int32(4))}})).To(Succeed())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(4)))

		// Switching autoscaling on is what a restarted manager sees: a
		// running fleet and no history. The load asks for one replica.
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			wp.Spec.Autoscaling = &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontalSpec(1, 10)}
			g.Expect(k8s.Update(ctx, wp)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(condition(getWaypoint(ctx, g, ns, "wp"), meshv1alpha1.ConditionScalingActive).Reason).To(Equal("StartSafe"))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(4)))
			g.Expect(deploymentReplicas(ctx, ns, "wp")).To(Equal(int32(4)))
		}, 8*time.Second, 500*time.Millisecond).Should(Succeed())
	})

	It("writes status at the status interval under steady load, not every tick", func(ctx context.Context) {
		ns := newNamespace(ctx)
		source.set(key(ns, "wp"), replicas(2, 7, 70))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontalSpec(2, 10)}}})).To(Succeed())
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.Load).NotTo(BeNil())
			g.Expect(wp.Status.ReadyReplicas).To(BeZero(), "no rollout in envtest, so the reconciler has nothing more to write")
		}).Should(Succeed())
		time.Sleep(2 * time.Second) // let the first writes settle

		// Messages change every tick ("N s with data"); at a 2 s status
		// interval, 8 s of ticks must cost about 4 writes, not 8.
		versions := map[string]bool{}
		deadline := time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) {
			versions[getWaypoint(ctx, Default, ns, "wp").ResourceVersion] = true
			time.Sleep(100 * time.Millisecond)
		}
		Expect(len(versions)).To(BeNumerically(">=", 3), "load is refreshed every status interval")
		Expect(len(versions)).To(BeNumerically("<=", 6), "status is not written every tick")
	})

	It("explains a spec the policy cannot run, instead of scaling on it", func(ctx context.Context) {
		ns := newNamespace(ctx)
		source.set(key(ns, "wp"), replicas(1, 50, 500))
		h := horizontalSpec(1, 5)
		h.ScaleDown.MaxPercent = new(int32(150)) // the CRD allows it, the policy cannot remove more than 100%
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{Horizontal: h}}})).To(Succeed())
		Eventually(func(g Gomega) {
			active := condition(getWaypoint(ctx, g, ns, "wp"), meshv1alpha1.ConditionScalingActive)
			g.Expect(active.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(active.Reason).To(Equal("InvalidConfig"))
			g.Expect(active.Message).To(ContainSubstring("cannot remove more than 100%"))
			evs := events(ctx, g, ns, "wp", "InvalidConfig")
			g.Expect(evs).To(HaveLen(1))
			g.Expect(evs[0].Type).To(Equal(corev1.EventTypeWarning))
		}).Should(Succeed())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(1)))
		Consistently(func() int32 { return deploymentReplicas(ctx, ns, "wp") }, 2*time.Second, 500*time.Millisecond).Should(Equal(int32(1)),
			"a load that asks for 8 replicas does not scale an invalid policy")
	})

	It("gives desiredReplicas back to spec.replicas when horizontal autoscaling is switched off", func(ctx context.Context) {
		ns := newNamespace(ctx)
		k := key(ns, "wp")
		source.set(k, replicas(1, 50, 500))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Replicas: new(int32(2)),
				Autoscaling: &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontalSpec(1, 4)}}})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getWaypoint(ctx, g, ns, "wp").Status.DesiredReplicas).To(Equal(int32(4)))
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			wp.Spec.Autoscaling.Horizontal.Enabled = new(false)
			g.Expect(k8s.Update(ctx, wp)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(2)))
			g.Expect(condition(wp, meshv1alpha1.ConditionScalingActive).Type).To(BeEmpty(), "the autoscaler's conditions are released")
			g.Expect(wp.Status.Load).To(BeNil())
		}).Should(Succeed())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(2)))
	})
})

var _ = Describe("Vertical autoscaling", func() {
	usage := func(cores float64, mem int64) func(*collector.ReplicaLoad) {
		return func(r *collector.ReplicaLoad) { r.CPUCores, r.HasCPU, r.MemoryBytes = cores, true, mem }
	}

	It("writes status.recommendation in Recommend mode and leaves the pods alone", func(ctx context.Context) {
		ns := newNamespace(ctx)
		source.set(key(ns, "wp"), replicas(2, 3, 30, usage(0.2, 300<<20)))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{
				Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: meshv1alpha1.VerticalRecommend}}}})).To(Succeed())
		Eventually(func(g Gomega) {
			rec := getWaypoint(ctx, g, ns, "wp").Status.Recommendation
			g.Expect(rec).NotTo(BeNil())
			cpu, mem := rec.Target[corev1.ResourceCPU], rec.Target[corev1.ResourceMemory]
			// p90 of 200m plus the 15% safety margin; the histogram's 5%
			// buckets round up.
			g.Expect(cpu.MilliValue()).To(BeNumerically(">=", 230))
			g.Expect(cpu.MilliValue()).To(BeNumerically("<=", 255))
			g.Expect(mem.Value()).To(BeNumerically("~", 345<<20, 20<<20))
			g.Expect(rec.LowerBound).To(HaveKey(corev1.ResourceCPU))
			g.Expect(rec.UpperBound).To(HaveKey(corev1.ResourceMemory))
			g.Expect(rec.Applied).To(BeEmpty(), "Recommend mode never applies")
			g.Expect(rec.LastApplied).To(BeNil())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(1)), "spec.replicas, written by the reconciler")
			g.Expect(condition(wp, meshv1alpha1.ConditionScalingActive).Type).To(BeEmpty(), "no horizontal conditions without horizontal autoscaling")
		}).Should(Succeed())
	})

	It("resizes running pods one at a time through pods/resize in InPlace mode, then records applied", func(ctx context.Context) {
		ns := newNamespace(ctx)
		source.set(key(ns, "wp"), replicas(2, 3, 30, usage(0.5, 300<<20)))
		res := corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		}
		pods := []*corev1.Pod{
			runningPod(ctx, ns, "wp", "wp-a", "10.0.0.1", res),
			runningPod(ctx, ns, "wp", "wp-b", "10.0.0.2", res),
		}
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Replicas: new(int32(2)), Resources: &res, Autoscaling: &meshv1alpha1.WaypointAutoscaling{
				Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: meshv1alpha1.VerticalInPlace}}}})).To(Succeed())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(2)))
		rollout(ctx, ns, "wp")

		var applied corev1.ResourceList
		Eventually(func(g Gomega) {
			rec := getWaypoint(ctx, g, ns, "wp").Status.Recommendation
			g.Expect(rec).NotTo(BeNil())
			g.Expect(rec.Applied).To(HaveKey(corev1.ResourceCPU))
			g.Expect(rec.LastApplied).NotTo(BeNil())
			applied = rec.Applied
		}).Should(Succeed())
		cpu, mem := applied[corev1.ResourceCPU], applied[corev1.ResourceMemory]
		Expect(cpu.MilliValue()).To(BeNumerically("~", 575, 30), "p90 of 500m plus the 15% margin")

		for _, p := range pods {
			var live corev1.Pod
			Expect(k8s.Get(ctx, key(ns, p.Name), &live)).To(Succeed())
			r := live.Spec.Containers[0].Resources
			Expect(r.Requests.Cpu().Cmp(cpu)).To(BeZero(), "pod %s cpu request %s, want %s", p.Name, r.Requests.Cpu(), cpu.String())
			Expect(r.Requests.Memory().Cmp(mem)).To(BeZero(), "pod %s memory request", p.Name)
			Expect(r.Limits.Cpu().MilliValue()).To(Equal(2*cpu.MilliValue()), "limits keep their 2:1 ratio")
			Expect(live.Generation).To(BeNumerically(">", p.Generation), "the resize went through the API server")
		}
		Eventually(func(g Gomega) {
			evs := events(ctx, g, ns, "wp", "Resized")
			g.Expect(evs).NotTo(BeEmpty())
			g.Expect(evs[0].Message).To(ContainSubstring("resized 2 ready replicas in place, one at a time"))
			g.Expect(events(ctx, g, ns, "wp", "ResizeInPlace")).NotTo(BeEmpty())
		}).Should(Succeed())

		By("a new pod started from the old template is brought to the applied requests")
		lastApplied := getWaypoint(ctx, Default, ns, "wp").Status.Recommendation.LastApplied
		runningPod(ctx, ns, "wp", "wp-c", "10.0.0.3", res)
		Eventually(func(g Gomega) {
			var live corev1.Pod
			g.Expect(k8s.Get(ctx, key(ns, "wp-c"), &live)).To(Succeed())
			g.Expect(live.Spec.Containers[0].Resources.Requests.Cpu().Cmp(cpu)).To(BeZero())
		}).Should(Succeed())
		Expect(getWaypoint(ctx, Default, ns, "wp").Status.Recommendation.LastApplied.Equal(lastApplied)).To(BeTrue(),
			"catching up new pods is not a new change for minInterval")
	})

	It("resizes one pod at a time and gives up, with a warning, when the kubelet finds a resize infeasible", func(ctx context.Context) {
		ns := newNamespace(ctx)
		source.set(key(ns, "wp"), replicas(2, 3, 30, usage(0.5, 300<<20)))
		res := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}
		a := runningPod(ctx, ns, "wp", "wp-a", "10.0.0.1", res)
		runningPod(ctx, ns, "wp", "wp-b", "10.0.0.2", res)
		// What a kubelet reports when the node has no room for the new size.
		a.Status.Conditions = append(a.Status.Conditions, corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue,
			Reason: corev1.PodReasonInfeasible, Message: "Node didn't have enough capacity: memory"})
		Expect(k8s.Status().Update(ctx, a)).To(Succeed())
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Replicas: new(int32(2)), Resources: &res, Autoscaling: &meshv1alpha1.WaypointAutoscaling{
				Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: meshv1alpha1.VerticalInPlace}}}})).To(Succeed())
		Eventually(func() int32 { return deploymentReplicas(ctx, ns, "wp") }).Should(Equal(int32(2)))
		rollout(ctx, ns, "wp")

		Eventually(func(g Gomega) {
			evs := events(ctx, g, ns, "wp", "ResizeInfeasible")
			g.Expect(evs).NotTo(BeEmpty())
			g.Expect(evs[0].Type).To(Equal(corev1.EventTypeWarning))
			g.Expect(evs[0].Message).To(ContainSubstring("Node didn't have enough capacity"))
			g.Expect(evs[0].Message).To(ContainSubstring("retrying after spec.autoscaling.vertical.minInterval"))
		}).Should(Succeed())
		var live corev1.Pod
		Expect(k8s.Get(ctx, key(ns, "wp-a"), &live)).To(Succeed())
		Expect(live.Generation).To(BeNumerically(">", a.Generation), "the first pod was resized")
		Eventually(func(g Gomega) {
			g.Expect(getWaypoint(ctx, g, ns, "wp").Status.Recommendation.LastApplied).NotTo(BeNil(), "the failed attempt starts minInterval")
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(k8s.Get(ctx, key(ns, "wp-b"), &live)).To(Succeed())
			g.Expect(live.Spec.Containers[0].Resources.Requests.Cpu().String()).To(Equal("50m"), "the second waits for the first, then the run stops")
			g.Expect(getWaypoint(ctx, g, ns, "wp").Status.Recommendation.Applied).To(BeEmpty())
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())
	})
})

// gauge and counter read a series of the controller-runtime registry.
func gauge(name, ns, wp string) float64 { return sample(name, ns, wp, "", "") }

func counter(name, ns, wp, label, value string) float64 { return sample(name, ns, wp, label, value) }

func sample(name, ns, wp, label, value string) float64 {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, map[string]string{"namespace": ns, "waypoint": wp, label: value}) {
				continue
			}
			switch {
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	_, empty := want[""]
	if empty {
		return found == len(want)-1
	}
	return found == len(want)
}
