package waypoint_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
)

func fixed(n int32) func(*meshv1alpha1.Waypoint) {
	return func(wp *meshv1alpha1.Waypoint) {
		wp.Spec.Replicas = new(n)
		wp.Spec.Autoscaling = &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontal(false, 1, 10)}
	}
}

// horizontal is a valid autoscaling block. The windows must be set: typed Go
// clients send the zero Duration, which the CRD's CEL rules reject.
func horizontal(enabled bool, lo, hi int32) *meshv1alpha1.HorizontalAutoscaling {
	return &meshv1alpha1.HorizontalAutoscaling{Enabled: new(enabled), MinReplicas: lo, MaxReplicas: hi,
		Metric: meshv1alpha1.MetricConcurrency, Target: 100, TargetUtilizationPercent: 70, PanicThresholdPercent: 200,
		StableWindow: &metav1.Duration{Duration: time.Minute}, PanicWindow: &metav1.Duration{Duration: 6 * time.Second}}
}

var _ = Describe("Waypoint reconciler", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("builds the fleet, owns it, and reports status and events", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", fixed(2)))).To(Succeed())
		wp := getWaypoint(ctx, ns, "wp")

		Eventually(func(g Gomega) {
			for kind, obj := range children(ctx, ns, "wp") {
				g.Expect(obj).NotTo(BeNil(), kind)
				g.Expect(metav1.IsControlledBy(obj, wp)).To(BeTrue(), kind+" must be controlled by the Waypoint")
			}
		}).Should(Succeed())
		var d appsv1.Deployment
		Expect(k8s.Get(ctx, key(ns, "wp"), &d)).To(Succeed())
		Expect(*d.Spec.Replicas).To(Equal(int32(2)))
		Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(imageRepo + ":" + defaultVersion))

		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, ns, "wp")
			g.Expect(wp.Status.ObservedGeneration).To(Equal(wp.Generation))
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(2)))
			g.Expect(wp.Status.Version).To(Equal(defaultVersion))
			sel, err := labels.Parse(wp.Status.Selector)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(sel.Matches(labels.Set(d.Spec.Template.Labels))).To(BeTrue())
			g.Expect(condition(wp, meshv1alpha1.ConditionReady).Reason).To(Equal(waypoint.ReasonReplicasNotReady))
			g.Expect(condition(wp, meshv1alpha1.ConditionProgressing).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(condition(wp, meshv1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			var evs corev1.EventList
			g.Expect(k8s.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
			var msgs []string
			for _, e := range evs.Items {
				if e.InvolvedObject.Name == "wp" && e.Reason == "Created" {
					msgs = append(msgs, e.Message)
				}
			}
			g.Expect(msgs).To(ContainElement(ContainSubstring("Deployment wp")))
		}).Should(Succeed())
	})

	It("reports Ready once the rollout finishes, and Progressing while a new version rolls out", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", fixed(2)))).To(Succeed())
		Eventually(func() *appsv1.Deployment { return deploymentOrNil(ctx, ns) }).ShouldNot(BeNil())
		rollout(ctx, ns, "wp", 2)
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, ns, "wp")
			g.Expect(condition(wp, meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(condition(wp, meshv1alpha1.ConditionProgressing).Reason).To(Equal(waypoint.ReasonComplete))
			g.Expect(wp.Status.ReadyReplicas).To(Equal(int32(2)))
			g.Expect(wp.Status.UpdatedReplicas).To(Equal(int32(2)))
		}).Should(Succeed())

		wp := getWaypoint(ctx, ns, "wp")
		wp.Spec.Version = "v0.2.0"
		Expect(k8s.Update(ctx, wp)).To(Succeed())
		Eventually(func(g Gomega) {
			d := deploymentOrNil(ctx, ns)
			g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(imageRepo + ":v0.2.0"))
			wp := getWaypoint(ctx, ns, "wp")
			g.Expect(wp.Status.Version).To(Equal("v0.2.0"))
			g.Expect(condition(wp, meshv1alpha1.ConditionProgressing).Reason).To(Equal(waypoint.ReasonRollingOut))
			g.Expect(condition(wp, meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())
	})

	It("repairs deleted and edited children", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", fixed(2)))).To(Succeed())
		Eventually(func() map[string]client.Object { return children(ctx, ns, "wp") }).ShouldNot(ContainElement(BeNil()))

		svc := children(ctx, ns, "wp")["Service"]
		Expect(k8s.Delete(ctx, svc)).To(Succeed())
		Eventually(func(g Gomega) {
			now := children(ctx, ns, "wp")["Service"]
			g.Expect(now).NotTo(BeNil())
			g.Expect(now.GetUID()).NotTo(Equal(svc.GetUID()))
		}).Should(Succeed())

		pdb := children(ctx, ns, "wp")["PodDisruptionBudget"]
		Expect(k8s.Delete(ctx, pdb)).To(Succeed())
		Eventually(func() client.Object { return children(ctx, ns, "wp")["PodDisruptionBudget"] }).ShouldNot(BeNil())

		d := deploymentOrNil(ctx, ns)
		d.Spec.Replicas = new(int32(7))
		d.Spec.Template.Spec.Containers[0].Image = "evil/image:latest"
		d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = new(false)
		Expect(k8s.Update(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			d := deploymentOrNil(ctx, ns)
			c := d.Spec.Template.Spec.Containers[0]
			g.Expect(*d.Spec.Replicas).To(Equal(int32(2)))
			g.Expect(c.Image).To(Equal(imageRepo + ":" + defaultVersion))
			g.Expect(*c.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		}).Should(Succeed())
	})

	// noWrites converges a Waypoint, then proves a reconcile writes nothing.
	noWrites := func(mutate func(*meshv1alpha1.Waypoint)) {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", mutate))).To(Succeed())
		Eventually(func() *appsv1.Deployment { return deploymentOrNil(ctx, ns) }).ShouldNot(BeNil())
		rollout(ctx, ns, "wp", 100)
		Eventually(func() metav1.ConditionStatus {
			return condition(getWaypoint(ctx, ns, "wp"), meshv1alpha1.ConditionReady).Status
		}).Should(Equal(metav1.ConditionTrue))
		// Let the manager settle, then prove it writes nothing either.
		before := resourceVersions(ctx, ns, "wp")
		Consistently(func() map[string]string { return resourceVersions(ctx, ns, "wp") }, 2*time.Second).Should(Equal(before))

		counting, writes := testutil.Counting(env.Mgr.GetClient())
		r := newReconciler(env.Mgr, counting)
		for range 2 {
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "wp")})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(writes.List()).To(BeEmpty())
		Expect(resourceVersions(ctx, ns, "wp")).To(Equal(before))
	}

	It("makes no write when reconciling an unchanged Waypoint", func() { noWrites(fixed(2)) })

	It("makes no write when reconciling an unchanged, fully specified Waypoint", func() {
		noWrites(func(wp *meshv1alpha1.Waypoint) {
			fixed(3)(wp)
			wp.Spec.Version, wp.Spec.Image = "v1.2.3", "mirror.local/waypoint:custom"
			wp.Spec.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.25"), corev1.ResourceMemory: resource.MustParse("96Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("0.5Gi")},
			}
			wp.Spec.Upgrade = &meshv1alpha1.WaypointUpgrade{MaxSurge: new(intstr.FromInt32(2)), DrainSeconds: new(int32(90))}
			wp.Spec.NodeSelector = map[string]string{"pool": "mesh"}
			wp.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh",
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(30))}}
			wp.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 2, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{meshv1alpha1.LabelWaypoint: "wp"}}}}
		})
	})

	It("follows the autoscaler's decision, clamped, and keeps its status fields", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", func(wp *meshv1alpha1.Waypoint) {
			wp.Spec.Replicas = new(int32(1))
			wp.Spec.Autoscaling = &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontal(true, 2, 5)}
		}))).To(Succeed())
		Eventually(func(g Gomega) {
			d := deploymentOrNil(ctx, ns)
			g.Expect(d).NotTo(BeNil())
			g.Expect(*d.Spec.Replicas).To(Equal(int32(2)), "a new autoscaled fleet starts at minReplicas")
		}).Should(Succeed())

		autoscale := func(desired int64) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "Waypoint",
				"metadata": map[string]any{"name": "wp", "namespace": ns},
				"status": map[string]any{"desiredReplicas": desired, "conditions": []any{map[string]any{
					"type": meshv1alpha1.ConditionScalingActive, "status": "True", "reason": "LoadReported",
					"message": "3 replicas reporting", "lastTransitionTime": "2026-01-01T00:00:00Z",
				}}},
			}}
			ExpectWithOffset(1, k8s.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
				client.FieldOwner("wayfabric-autoscaler"), client.ForceOwnership)).To(Succeed())
		}
		autoscale(4)
		Eventually(func() int32 { return *deploymentOrNil(ctx, ns).Spec.Replicas }).Should(Equal(int32(4)))
		autoscale(9)
		Eventually(func() int32 { return *deploymentOrNil(ctx, ns).Spec.Replicas }).Should(Equal(int32(5)))

		rollout(ctx, ns, "wp", 5)
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, ns, "wp")
			g.Expect(wp.Status.ReadyReplicas).To(Equal(int32(5)))
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(9)), "desiredReplicas belongs to the autoscaler")
			g.Expect(condition(wp, meshv1alpha1.ConditionScalingActive).Reason).To(Equal("LoadReported"))
			g.Expect(condition(wp, meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}).Should(Succeed())

		// A spec change must not reset the autoscaled replica count.
		wp := getWaypoint(ctx, ns, "wp")
		wp.Spec.Replicas = new(int32(1))
		wp.Spec.Upgrade = &meshv1alpha1.WaypointUpgrade{DrainSeconds: new(int32(60))}
		Expect(k8s.Update(ctx, wp)).To(Succeed())
		Eventually(func() int64 { return *deploymentOrNil(ctx, ns).Spec.Template.Spec.TerminationGracePeriodSeconds }).Should(Equal(int64(65)))
		Expect(*deploymentOrNil(ctx, ns).Spec.Replicas).To(Equal(int32(5)))
	})

	It("rolls the template to the vertical autoscaler's applied requests, not its target", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", func(wp *meshv1alpha1.Waypoint) {
			fixed(2)(wp)
			wp.Spec.Autoscaling.Vertical = &meshv1alpha1.VerticalAutoscaling{Mode: meshv1alpha1.VerticalRolling}
			wp.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
		}))).To(Succeed())
		cpu := func() string {
			d := deploymentOrNil(ctx, ns)
			if d == nil {
				return ""
			}
			q := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
			return q.String()
		}
		Eventually(cpu).Should(Equal("100m"))

		recommend := func(target, applied string) {
			rec := map[string]any{"target": map[string]any{"cpu": target}}
			if applied != "" {
				rec["applied"] = map[string]any{"cpu": applied}
			}
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "Waypoint",
				"metadata": map[string]any{"name": "wp", "namespace": ns},
				"status":   map[string]any{"recommendation": rec},
			}}
			ExpectWithOffset(1, k8s.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
				client.FieldOwner("wayfabric-autoscaler"), client.ForceOwnership)).To(Succeed())
		}
		recommend("700m", "")
		Consistently(cpu, 2*time.Second).Should(Equal("100m"), "a target alone must not roll the fleet")
		recommend("700m", "650m")
		Eventually(cpu).Should(Equal("650m"))
		Expect(getWaypoint(ctx, ns, "wp").Status.Recommendation).NotTo(BeNil(), "the operator's status writes keep the autoscaler's fields")
	})

	It("follows kubectl scale when autoscaling is off", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", fixed(1)))).To(Succeed())
		Eventually(func() *appsv1.Deployment { return deploymentOrNil(ctx, ns) }).ShouldNot(BeNil())
		wp := getWaypoint(ctx, ns, "wp")
		scale := &autoscalingScale{}
		Expect(k8s.SubResource("scale").Get(ctx, wp, scale.obj())).To(Succeed())
		scale.s.Spec.Replicas = 3
		Expect(k8s.SubResource("scale").Update(ctx, wp, client.WithSubResourceBody(scale.obj()))).To(Succeed())
		Eventually(func() int32 { return *deploymentOrNil(ctx, ns).Spec.Replicas }).Should(Equal(int32(3)))
		Eventually(func() int32 { return getWaypoint(ctx, ns, "wp").Status.DesiredReplicas }).Should(Equal(int32(3)))
	})

	It("lets every waypoint read its configuration through the shared reader binding", func() {
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", fixed(1)))).To(Succeed())
		subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "wp"}
		Eventually(func(g Gomega) {
			var crb rbacv1.ClusterRoleBinding
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: waypoint.ReaderName}, &crb)).To(Succeed())
			g.Expect(crb.Subjects).To(ContainElement(subject))
		}).Should(Succeed())

		By("repairing a removed subject")
		var crb rbacv1.ClusterRoleBinding
		Expect(k8s.Get(ctx, client.ObjectKey{Name: waypoint.ReaderName}, &crb)).To(Succeed())
		crb.Subjects = nil
		Expect(k8s.Update(ctx, &crb)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: waypoint.ReaderName}, &crb)).To(Succeed())
			g.Expect(crb.Subjects).To(ContainElement(subject))
		}).Should(Succeed())

		By("dropping the subject when the Waypoint goes")
		Expect(k8s.Delete(ctx, getWaypoint(ctx, ns, "wp"))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: waypoint.ReaderName}, &crb)).To(Succeed())
			g.Expect(crb.Subjects).NotTo(ContainElement(subject))
		}).Should(Succeed())
	})

	It("reports Degraded with the API error when a child cannot be written", func() {
		// A Deployment of the same name with another (immutable) selector.
		squatter := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "other"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "other"}}},
				},
			},
		}
		Expect(k8s.Create(ctx, squatter)).To(Succeed())
		Expect(k8s.Create(ctx, newWaypoint(ns, "wp", fixed(1)))).To(Succeed())
		Eventually(func(g Gomega) {
			c := condition(getWaypoint(ctx, ns, "wp"), meshv1alpha1.ConditionDegraded)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(waypoint.ReasonApplyFailed))
			g.Expect(c.Message).To(And(ContainSubstring("Deployment"), ContainSubstring("immutable")))
		}).Should(Succeed())
		// The other children are still written.
		Eventually(func() client.Object { return children(ctx, ns, "wp")["Service"] }).ShouldNot(BeNil())
	})
})

func deploymentOrNil(ctx context.Context, ns string) *appsv1.Deployment {
	var d appsv1.Deployment
	if err := k8s.Get(ctx, key(ns, "wp"), &d); err != nil {
		return nil
	}
	return &d
}
