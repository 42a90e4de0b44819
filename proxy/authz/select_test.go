package authz_test

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

func names(e *authz.Evaluator) []string {
	var out []string
	for _, p := range e.Policies() {
		out = append(out, p.Key)
	}
	slices.Sort(out)
	return out
}

func inNamespace(p *meshv1alpha1.AuthorizationPolicy, ns string) *meshv1alpha1.AuthorizationPolicy {
	p.Namespace = ns
	return p
}

func TestForWaypoint(t *testing.T) {
	set := authz.Compile([]*meshv1alpha1.AuthorizationPolicy{
		policy(t, "on-waypoint", "{targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp}]}"),
		policy(t, "on-gateway", "{targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: wp}]}"),
		policy(t, "on-web", "{targetRefs: [{group: '', kind: Service, name: web}]}"),
		policy(t, "on-web-core", "{targetRefs: [{group: core, kind: Service, name: web}]}"),
		policy(t, "on-api", "{targetRefs: [{kind: Service, name: api}]}"),
		policy(t, "on-other-waypoint", "{targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp2}]}"),
		policy(t, "foreign-namespace-ref", "{targetRefs: [{kind: Service, name: web, namespace: elsewhere}]}"),
		policy(t, "workload", "{selector: {matchLabels: {app: web}}}"),
		inNamespace(policy(t, "web-in-other-ns", "{targetRefs: [{kind: Service, name: web}]}"), "other"),
	}, authz.Options{})
	wp := types.NamespacedName{Namespace: "app", Name: "wp"}
	cases := []struct {
		svc  types.NamespacedName
		want []string
	}{
		{types.NamespacedName{Namespace: "app", Name: "web"}, []string{"app/on-gateway", "app/on-waypoint", "app/on-web", "app/on-web-core"}},
		{types.NamespacedName{Namespace: "app", Name: "api"}, []string{"app/on-api", "app/on-gateway", "app/on-waypoint"}},
		{types.NamespacedName{Namespace: "app", Name: "db"}, []string{"app/on-gateway", "app/on-waypoint"}},
		{types.NamespacedName{Namespace: "other", Name: "web"}, []string{"app/on-gateway", "app/on-waypoint", "other/web-in-other-ns"}},
	}
	for _, tc := range cases {
		if got := names(set.ForWaypoint(wp, tc.svc)); !slices.Equal(got, tc.want) {
			t.Errorf("ForWaypoint(%s) = %v, want %v", tc.svc, got, tc.want)
		}
	}
	if e := authz.Compile(nil, authz.Options{}).ForWaypoint(wp, cases[0].svc); e != nil {
		t.Errorf("no policies must give a nil evaluator (allow all), got %v", names(e))
	}
}

func TestForWorkload(t *testing.T) {
	set := authz.Compile([]*meshv1alpha1.AuthorizationPolicy{
		policy(t, "namespace-wide", "{action: DENY}"),
		policy(t, "web-pods", "{selector: {matchLabels: {app: web}}}"),
		policy(t, "not-canary", "{selector: {matchExpressions: [{key: track, operator: NotIn, values: [canary]}]}}"),
		policy(t, "on-web-service", "{targetRefs: [{kind: Service, name: web}]}"),
		policy(t, "on-waypoint", "{targetRefs: [{group: mesh.wayfabric.io, kind: Waypoint, name: wp}]}"),
		inNamespace(policy(t, "mesh-wide", "{action: AUDIT}"), "wayfabric-system"),
		inNamespace(policy(t, "mesh-web", "{selector: {matchLabels: {app: web}}}"), "wayfabric-system"),
		inNamespace(policy(t, "other-ns", "{}"), "other"),
	}, authz.Options{RootNamespace: "wayfabric-system"})
	cases := []struct {
		name string
		w    authz.Workload
		want []string
	}{
		{"web pod behind a waypoint", authz.Workload{Namespace: "app", Labels: map[string]string{"app": "web"}},
			[]string{"app/namespace-wide", "app/not-canary", "app/web-pods", "wayfabric-system/mesh-web", "wayfabric-system/mesh-wide"}},
		{"web canary pod of a Service without waypoint", authz.Workload{Namespace: "app", Labels: map[string]string{"app": "web", "track": "canary"}, ServicesWithoutWaypoint: []string{"web"}},
			[]string{"app/namespace-wide", "app/on-web-service", "app/web-pods", "wayfabric-system/mesh-web", "wayfabric-system/mesh-wide"}},
		{"pod of another namespace", authz.Workload{Namespace: "other", Labels: map[string]string{"app": "db"}},
			[]string{"other/other-ns", "wayfabric-system/mesh-wide"}},
	}
	for _, tc := range cases {
		if got := names(set.ForWorkload(tc.w)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ForWorkload = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCompileErrorsNameTheField(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"{action: CUSTOM}", `action "CUSTOM" is not supported`},
		{"{selector: {matchLabels: {a: b}}, targetRefs: [{kind: Service, name: x}]}", "either selector or targetRefs"},
		{"{selector: {matchExpressions: [{key: a, operator: Near}]}}", "selector:"},
		{"{rules: [{}, {from: [{source: {ipBlocks: [10.0.0.0/8, nope]}}]}]}", `rules[1].from[0].source.ipBlocks[1]: "nope" is not an IP address or CIDR`},
		{"{rules: [{from: [{source: {principals: ['a*b']}}]}]}", `rules[0].from[0].source.principals[0]: "a*b": '*' is a wildcard only at the start or the end`},
		{"{rules: [{from: [{source: {}}]}]}", "a source must set at least one field"},
		{"{rules: [{from: [{source: {requestPrincipals: [x]}}]}]}", "JWT authentication is not supported"},
		{"{rules: [{from: [{source: {remoteIpBlocks: [1.2.3.4]}}]}]}", "remoteIpBlocks: not supported"},
		{"{rules: [{from: [{source: {serviceAccounts: [nope]}}]}]}", `serviceAccounts[0]: "nope": want <namespace>/<service-account>`},
		{"{rules: [{to: [{operation: {ports: ['65536']}}]}]}", `rules[0].to[0].operation.ports[0]: "65536" is not a port number`},
		{"{rules: [{to: [{operation: {paths: ['/a/{*}']}}]}]}", "path templates are not supported"},
		{"{rules: [{to: [{operation: {paths: [a]}}]}]}", "a path starts with /"},
		{"{rules: [{to: [{operation: {}}]}]}", "an operation must set at least one field"},
		{"{rules: [{when: [{key: 'request.auth.claims[iss]', values: [x]}]}]}", `rules[0].when[0].key: "request.auth.claims[iss]" is not supported`},
		{"{rules: [{when: [{key: source.ip}]}]}", "needs values or notValues"},
		{"{rules: [{when: [{key: destination.port, values: [http]}]}]}", `when[0].values[0]: "http" is not a port number`},
	}
	for _, tc := range cases {
		p := authz.CompilePolicy(policy(t, "p", tc.spec))
		if p.Err == nil || !strings.Contains(p.Err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.spec, p.Err, tc.want)
		}
	}
	if p := authz.CompilePolicy(policy(t, "ok", "{targetRefs: [{kind: Service, name: web}], rules: [{to: [{operation: {methods: [GET]}}]}]}")); p.Err != nil || !p.L7 {
		t.Errorf("valid L7 policy: err %v, L7 %v", p.Err, p.L7)
	}
	if p := authz.CompilePolicy(policy(t, "ok", "{rules: [{to: [{operation: {ports: ['80']}}]}]}")); p.Err != nil || p.L7 {
		t.Errorf("valid L4 policy: err %v, L7 %v", p.Err, p.L7)
	}
}
