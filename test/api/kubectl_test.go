package api_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

var _ = Describe("kubectl", func() {
	It("scales a Waypoint through the scale subresource", func(ctx context.Context) {
		wp := fromYAML(`
apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: scaled, namespace: default}
spec: {replicas: 1}`)
		Expect(k8s.Create(ctx, wp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, wp)).To(Succeed()) })

		out, err := runKubectl("scale", "waypoint", "scaled", "-n", "default", "--replicas=4")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("scaled"))

		var got meshv1alpha1.Waypoint
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(wp), &got)).To(Succeed())
		Expect(*got.Spec.Replicas).To(BeEquivalentTo(4))
	})

	It("prints the status columns operators read for waypoints", func(ctx context.Context) {
		wp := fromYAML(`
apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: columns, namespace: default}
spec: {for: all}`)
		Expect(k8s.Create(ctx, wp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, wp)).To(Succeed()) })

		out, err := runKubectl("get", "waypoints", "-A")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(headerFields(out)).To(Equal([]string{
			"NAMESPACE", "NAME", "FOR", "READY", "DESIRED", "RPS", "P99", "CPU/REPLICA", "VERSION", "AGE"}))
		Expect(out).To(MatchRegexp(`default\s+columns\s+all\s`))

		out, err = runKubectl("get", "wp", "-n", "default", "columns")
		Expect(err).NotTo(HaveOccurred(), "the short name wp must work: %s", out)
	})

	It("prints the status columns operators read for ztunnelconfigs", func(ctx context.Context) {
		zc := fromYAML(`
apiVersion: mesh.wayfabric.io/v1alpha1
kind: ZtunnelConfig
metadata: {name: columns}
spec: {}`)
		Expect(k8s.Create(ctx, zc)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, zc)).To(Succeed()) })

		out, err := runKubectl("get", "ztunnelconfigs")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(headerFields(out)).To(Equal([]string{"NAME", "NODES", "READY", "UPDATED", "VERSION", "AGE"}))
		Expect(out).To(MatchRegexp(`(?m)^columns\s`))

		out, err = runKubectl("get", "ztc", "-o", "wide")
		Expect(err).NotTo(HaveOccurred(), "the short name ztc must work: %s", out)
		Expect(headerFields(out)).To(Equal([]string{"NAME", "NODES", "READY", "UPDATED", "VERSION", "AGE", "PODS", "DEGRADED"}))
	})
})
