package api_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// invalidWaypoint wraps a spec fragment in a Waypoint manifest.
func invalidWaypoint(spec string) string {
	return fmt.Sprintf("apiVersion: mesh.wayfabric.io/v1alpha1\nkind: Waypoint\nmetadata: {generateName: bad-, namespace: default}\nspec:\n%s", spec)
}

// invalidZtunnel wraps a spec fragment in a ZtunnelConfig manifest.
func invalidZtunnel(spec string) string {
	return fmt.Sprintf("apiVersion: mesh.wayfabric.io/v1alpha1\nkind: ZtunnelConfig\nmetadata: {generateName: bad-}\nspec:\n%s", spec)
}

var _ = Describe("Validation", func() {
	DescribeTable("rejects an invalid spec with a message a person understands",
		func(ctx context.Context, manifest, wantMessage string) {
			err := k8s.Create(ctx, fromYAML(manifest))
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid object")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("waypoint version without a v and patch",
			invalidWaypoint("  version: \"1.2\""), "version must be a release such as v1.2.3"),
		Entry("waypoint version that is a tag name",
			invalidWaypoint("  version: latest"), "version must be a release such as v1.2.3"),
		Entry("unknown traffic type",
			invalidWaypoint("  for: everything"), `Unsupported value: "everything"`),
		Entry("negative replicas",
			invalidWaypoint("  replicas: -1"), "replicas must not be negative"),
		Entry("image with a space",
			invalidWaypoint("  image: \"registry.local/waypoint v1\""), "image must not contain spaces"),
		Entry("resource quantity that is not a quantity",
			invalidWaypoint("  resources: {requests: {cpu: lots}}"), `spec.resources.requests.cpu: Invalid value: "lots"`),
		Entry("horizontal min above max",
			invalidWaypoint("  autoscaling: {horizontal: {minReplicas: 5, maxReplicas: 2}}"),
			"autoscaling.horizontal.minReplicas must not exceed maxReplicas"),
		Entry("horizontal min of zero",
			invalidWaypoint("  autoscaling: {horizontal: {minReplicas: 0}}"),
			"autoscaling.horizontal.minReplicas must be at least 1"),
		Entry("horizontal target of zero",
			invalidWaypoint("  autoscaling: {horizontal: {target: 0}}"),
			"autoscaling.horizontal.target must be at least 1"),
		Entry("utilization above 100%",
			invalidWaypoint("  autoscaling: {horizontal: {targetUtilizationPercent: 150}}"),
			"targetUtilizationPercent must be between 1 and 100"),
		Entry("panic window not shorter than the stable window",
			invalidWaypoint("  autoscaling: {horizontal: {stableWindow: 30s, panicWindow: 1m}}"),
			"panicWindow must be shorter than stableWindow"),
		Entry("panic threshold that would always panic",
			invalidWaypoint("  autoscaling: {horizontal: {panicThresholdPercent: 100}}"),
			"panicThresholdPercent must be above 100"),
		Entry("scale-up rule of zero pods",
			invalidWaypoint("  autoscaling: {horizontal: {scaleUp: {maxPods: 0}}}"), "maxPods must be at least 1"),
		Entry("scale-up stabilization, which would delay reacting to load",
			invalidWaypoint("  autoscaling: {horizontal: {scaleUp: {stabilizationWindow: 30s}}}"),
			"scaleUp.stabilizationWindow must be 0s"),
		Entry("unknown metric",
			invalidWaypoint("  autoscaling: {horizontal: {metric: CPU}}"), `Unsupported value: "CPU"`),
		Entry("vertical cpu min above max",
			invalidWaypoint("  autoscaling: {vertical: {minAllowed: {cpu: \"2\"}, maxAllowed: {cpu: \"1\"}}}"),
			"autoscaling.vertical.minAllowed.cpu must not exceed maxAllowed.cpu"),
		Entry("vertical memory min above max",
			invalidWaypoint("  autoscaling: {vertical: {minAllowed: {memory: 2Gi}, maxAllowed: {memory: 1Gi}}}"),
			"autoscaling.vertical.minAllowed.memory must not exceed maxAllowed.memory"),
		Entry("vertical bound that is not a quantity",
			invalidWaypoint("  autoscaling: {vertical: {maxAllowed: {memory: lots}}}"),
			"memory must be a quantity such as 64Mi or 2Gi"),
		Entry("vertical interval that would thrash pods",
			invalidWaypoint("  autoscaling: {vertical: {minInterval: 10s}}"),
			"autoscaling.vertical.minInterval must be at least 1m"),
		Entry("unknown vertical mode",
			invalidWaypoint("  autoscaling: {vertical: {mode: Auto}}"), `Unsupported value: "Auto"`),
		Entry("waypoint surge of zero",
			invalidWaypoint("  upgrade: {maxSurge: 0}"), "upgrade.maxSurge must be positive"),
		Entry("waypoint surge of 0%",
			invalidWaypoint("  upgrade: {maxSurge: \"0%\"}"), "upgrade.maxSurge must be positive"),
		Entry("waypoint drain longer than an hour",
			invalidWaypoint("  upgrade: {drainSeconds: 7200}"), "upgrade.drainSeconds must be between 0 and 3600"),
		Entry("ztunnel surge and unavailable both zero",
			invalidZtunnel("  upgrade: {maxSurge: 0, maxUnavailable: 0}"),
			"upgrade.maxSurge and upgrade.maxUnavailable must not both be zero"),
		Entry("ztunnel surge and unavailable both 0%",
			invalidZtunnel("  upgrade: {maxSurge: \"0%\", maxUnavailable: \"0%\"}"),
			"upgrade.maxSurge and upgrade.maxUnavailable must not both be zero"),
		Entry("ztunnel version without patch",
			invalidZtunnel("  version: v1.2"), "version must be a release such as v1.2.3"),
		Entry("ztunnel trust domain with upper case and underscore",
			invalidZtunnel("  trustDomain: Cluster_Local"), "trustDomain must be a DNS-like name"),
		Entry("ztunnel excluded CIDR that is not a CIDR",
			invalidZtunnel("  capture: {excludeOutboundCIDRs: [\"10.0.0.0/33\"]}"),
			"capture.excludeOutboundCIDRs must be CIDRs"),
		Entry("ztunnel excluded port out of range",
			invalidZtunnel("  capture: {excludeInboundPorts: [70000]}"), "should be less than or equal to 65535"),
		Entry("ztunnel unknown log level",
			invalidZtunnel("  logLevel: verbose"), `Unsupported value: "verbose"`),
		Entry("ztunnel negative drain",
			invalidZtunnel("  upgrade: {drainSeconds: -1}"), "upgrade.drainSeconds must be between 0 and 3600"),
	)
})
