package api_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/internal/testenv"
)

var _ = Describe("CRDs", func() {
	It("installs both CRDs with status, and scale on Waypoint", func(ctx context.Context) {
		for name, wantScale := range map[string]bool{
			"waypoints.mesh.wayfabric.io":      true,
			"ztunnelconfigs.mesh.wayfabric.io": false,
		} {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			Expect(k8s.Get(ctx, types.NamespacedName{Name: name}, crd)).To(Succeed())
			Expect(crd.Status.Conditions).To(ContainElement(And(
				HaveField("Type", apiextensionsv1.Established), HaveField("Status", apiextensionsv1.ConditionTrue))), name)
			sub := crd.Spec.Versions[0].Subresources
			Expect(sub.Status).NotTo(BeNil(), name)
			Expect(sub.Scale != nil).To(Equal(wantScale), name)
		}
	})

	It("accepts every sample in config/samples", func(ctx context.Context) {
		samples, err := testenv.Samples()
		Expect(err).NotTo(HaveOccurred())
		for _, obj := range samples {
			Expect(k8s.Create(ctx, obj)).To(Succeed(), "sample %s %s", obj.GetKind(), obj.GetName())
			DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, obj))).To(Succeed()) })
		}
	})

	It("fills in defaults a user can rely on", func(ctx context.Context) {
		wp := fromYAML(`
apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: defaults, namespace: default}
spec:
  autoscaling: {horizontal: {}, vertical: {}}
  upgrade: {}`)
		Expect(k8s.Create(ctx, wp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, wp)).To(Succeed()) })
		var got meshv1alpha1.Waypoint
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(wp), &got)).To(Succeed())
		Expect(got.Spec.For).To(Equal(meshv1alpha1.TrafficService))
		Expect(*got.Spec.Replicas).To(BeEquivalentTo(1))
		h := got.Spec.Autoscaling.Horizontal
		Expect(*h.Enabled).To(BeTrue())
		Expect([]int32{h.MinReplicas, h.MaxReplicas, h.Target, h.TargetUtilizationPercent, h.PanicThresholdPercent}).
			To(Equal([]int32{1, 10, 100, 70, 200}))
		Expect(h.Metric).To(Equal(meshv1alpha1.MetricConcurrency))
		Expect(h.StableWindow.Seconds()).To(BeEquivalentTo(60))
		Expect(h.ScaleDown.StabilizationWindow.Duration.Seconds()).To(BeEquivalentTo(300))
		Expect(got.Spec.Autoscaling.Vertical.Mode).To(Equal(meshv1alpha1.VerticalRecommend))
		Expect(got.Spec.Upgrade.MaxSurge.String()).To(Equal("25%"))
		Expect(*got.Spec.Upgrade.DrainSeconds).To(BeEquivalentTo(30))

		zc := fromYAML(`
apiVersion: mesh.wayfabric.io/v1alpha1
kind: ZtunnelConfig
metadata: {name: defaults}
spec:
  upgrade: {}`)
		Expect(k8s.Create(ctx, zc)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, zc)).To(Succeed()) })
		var z meshv1alpha1.ZtunnelConfig
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(zc), &z)).To(Succeed())
		Expect(z.Spec.TrustDomain).To(Equal("cluster.local"))
		Expect(z.Spec.ExcludedNamespaces).To(Equal([]string{"kube-system"}))
		Expect(z.Spec.LogLevel).To(BeEquivalentTo("info"))
		Expect(z.Spec.Upgrade.MaxSurge.IntValue()).To(Equal(1))
		Expect(z.Spec.Upgrade.MaxUnavailable.IntValue()).To(Equal(0))
	})
})
