package api_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// policy wraps a spec fragment in an AuthorizationPolicy manifest.
func policy(spec string) string {
	return fmt.Sprintf("apiVersion: mesh.wayfabric.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: {generateName: ap-, namespace: default}\nspec:\n%s", spec)
}

var _ = Describe("AuthorizationPolicy", func() {
	DescribeTable("accepts Istio-shaped policies",
		func(ctx context.Context, spec string) {
			obj := fromYAML(policy(spec))
			Expect(k8s.Create(ctx, obj)).To(Succeed())
			DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, obj))).To(Succeed()) })
		},
		Entry("an empty spec (allow nothing)", "  {}"),
		Entry("L4 rules on a selector", `
  selector: {matchLabels: {app: db}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/app/sa/api", "spiffe://cluster.local/ns/app/sa/worker", "ns/ops/sa/*"]}
    - source: {namespaces: ["monitoring"], notIpBlocks: ["10.9.0.0/16"]}
    to:
    - operation: {ports: ["5432"]}
    when:
    - {key: source.ip, values: ["10.0.0.0/8", "fd00::1"]}
    - {key: destination.port, notValues: ["9999"]}`),
		Entry("L7 rules on a targetRef", `
  targetRefs:
  - {kind: Service, group: "", name: web}
  - {kind: Waypoint, group: mesh.wayfabric.io, name: wp}
  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE", "PUT"], paths: ["/admin/*", "*.php", "/exact"], hosts: ["web.app:*"], notPorts: ["8443"]}
    when:
    - {key: "request.headers[x-env]", values: ["prod*"]}`),
		Entry("serviceAccounts (Istio 1.26)", `
  targetRefs: [{kind: Service, group: "", name: web}]
  rules: [{from: [{source: {serviceAccounts: ["app/frontend"], notServiceAccounts: ["app/legacy"]}}]}]`),
		Entry("AUDIT", "  action: AUDIT\n  rules: [{}]"),
		Entry("a targetRef without group means a Service", "  targetRefs: [{kind: Service, name: web}]"),
	)

	It("defaults action to ALLOW and keeps an empty rule", func(ctx context.Context) {
		obj := fromYAML(policy("  rules: [{}]"))
		Expect(k8s.Create(ctx, obj)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, obj)).To(Succeed()) })
		var got meshv1alpha1.AuthorizationPolicy
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), &got)).To(Succeed())
		Expect(got.Spec.Action).To(Equal(meshv1alpha1.ActionAllow))
		Expect(got.Spec.Rules).To(HaveLen(1))
	})

	DescribeTable("rejects what cannot be enforced, saying why",
		func(ctx context.Context, spec, wantMessage string) {
			err := k8s.Create(ctx, fromYAML(policy(spec)))
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid policy")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("HTTP methods on a selector policy (only ztunnels see it)",
			"  selector: {matchLabels: {app: db}}\n  rules: [{to: [{operation: {methods: [GET]}}]}]",
			"a policy without targetRefs is enforced by ztunnels, which never parse HTTP"),
		Entry("paths on a namespace-wide policy",
			"  rules: [{to: [{operation: {paths: [/admin]}}]}]",
			"hosts, methods, paths and request.headers conditions are HTTP (L7) fields"),
		Entry("a request header condition on a selector policy",
			"  selector: {matchLabels: {app: db}}\n  rules: [{when: [{key: 'request.headers[x-a]', values: [b]}]}]",
			"attach the policy with targetRefs to a Service that uses a waypoint"),
		Entry("selector and targetRefs together",
			"  selector: {matchLabels: {app: web}}\n  targetRefs: [{kind: Service, group: '', name: web}]",
			"set either selector (pods, enforced by their ztunnels) or targetRefs"),
		Entry("CUSTOM action",
			"  action: CUSTOM", "action CUSTOM (external authorization) is not supported"),
		Entry("an unknown action",
			"  action: LOG", `Unsupported value: "LOG"`),
		Entry("a GatewayClass target",
			"  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]",
			"targetRefs may name a Service"),
		Entry("a Service target in the wrong group",
			"  targetRefs: [{kind: Service, group: networking.istio.io, name: web}]",
			"targetRefs may name a Service"),
		Entry("an empty source",
			"  rules: [{from: [{source: {}}]}]", "source must set at least one field"),
		Entry("an empty operation",
			"  targetRefs: [{kind: Service, name: web}]\n  rules: [{to: [{operation: {}}]}]", "operation must set at least one field"),
		Entry("JWT request principals",
			"  rules: [{from: [{source: {requestPrincipals: ['issuer/subject']}}]}]",
			"requestPrincipals and notRequestPrincipals need JWT authentication"),
		Entry("remote IP blocks",
			"  rules: [{from: [{source: {remoteIpBlocks: [1.2.3.4]}}]}]", "remoteIpBlocks and notRemoteIpBlocks"),
		Entry("an IP block that is not an address",
			"  rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]", "ipBlocks entries must be IP addresses"),
		Entry("a host name as an IP block",
			"  rules: [{from: [{source: {notIpBlocks: [example.com]}}]}]", "ipBlocks entries must be IP addresses"),
		Entry("a port out of range",
			"  rules: [{to: [{operation: {ports: ['70000']}}]}]", "ports must be port numbers from 1 to 65535"),
		Entry("a named port",
			"  rules: [{to: [{operation: {notPorts: [http]}}]}]", "ports must be port numbers from 1 to 65535"),
		Entry("a wildcard in the middle of a principal",
			"  rules: [{from: [{source: {principals: ['cluster.local/ns/*/sa/api']}}]}]", "'*' elsewhere is not a wildcard"),
		Entry("a prefix and suffix wildcard at once",
			"  rules: [{from: [{source: {namespaces: ['*team*']}}]}]", "not both"),
		Entry("a path template",
			"  targetRefs: [{kind: Service, name: web}]\n  rules: [{to: [{operation: {paths: ['/api/{*}/x']}}]}]", "path templates ({*}, {**}) are not supported"),
		Entry("a relative path",
			"  targetRefs: [{kind: Service, name: web}]\n  rules: [{to: [{operation: {paths: ['admin']}}]}]", "a path starts with /"),
		Entry("a malformed serviceAccounts entry",
			"  rules: [{from: [{source: {serviceAccounts: ['frontend']}}]}]", "serviceAccounts entries are <namespace>/<service-account>"),
		Entry("a JWT claim condition",
			"  rules: [{when: [{key: 'request.auth.claims[iss]', values: [x]}]}]", "JWT claims (request.auth.*)"),
		Entry("an SNI condition",
			"  rules: [{when: [{key: connection.sni, values: [x]}]}]", "when.key must be request.headers[<name>]"),
		Entry("a condition without values",
			"  rules: [{when: [{key: source.ip}]}]", "when needs values or notValues"),
		Entry("a source.ip condition that is not an address",
			"  rules: [{when: [{key: source.ip, values: [somewhere]}]}]", "source.ip and destination.ip values must be IP addresses or CIDRs"),
		Entry("a destination.port condition that is not a port",
			"  rules: [{when: [{key: destination.port, notValues: ['0']}]}]", "destination.port values must be port numbers"),
	)

	It("installs with status and the documented columns", func(ctx context.Context) {
		obj := fromYAML(policy("  action: DENY\n  rules: [{from: [{source: {namespaces: [untrusted]}}]}]"))
		Expect(k8s.Create(ctx, obj)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, obj)).To(Succeed()) })

		out, err := runKubectl("get", "authorizationpolicies.mesh.wayfabric.io", "-A")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(headerFields(out)).To(Equal([]string{"NAMESPACE", "NAME", "ACTION", "ENFORCED-BY", "ACCEPTED", "AGE"}))
		Expect(out).To(MatchRegexp(`default\s+` + obj.GetName() + `\s+DENY\s`))
	})
})
