package authorization_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/authorization"
	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
)

// The suite runs the AuthorizationPolicy controller alone against a real
// kube-apiserver, with the CRD and its CEL rules installed.
var (
	env *testutil.Env
	k8s client.Client
)

const rootNamespace = "wayfabric-system"

func TestAuthorizationEnvtest(t *testing.T) {
	testutil.RunSuite(t, "AuthorizationPolicy controller suite")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testutil.Start(func(mgr ctrl.Manager) error {
		return (&authorization.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("authorization-controller"),
			RootNamespace: rootNamespace}).SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
})

var nsCounter atomic.Int32

func newNamespace(ctx context.Context, name string, labels map[string]string) string {
	if name == "" {
		name = fmt.Sprintf("authz-test-%d", nsCounter.Add(1))
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	ExpectWithOffset(1, client.IgnoreAlreadyExists(k8s.Create(ctx, ns))).To(Succeed())
	return name
}

func create(ctx context.Context, obj client.Object) {
	ExpectWithOffset(1, k8s.Create(ctx, obj)).To(Succeed())
}

func service(ns, name string, labels map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
}

func waypoint(ns, name string) *meshv1alpha1.Waypoint {
	return &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func useWaypoint(name string) map[string]string {
	return map[string]string{meshv1alpha1.LabelUseWaypoint: name}
}

// newPolicy creates a policy from its spec in YAML, sent as written (as
// kubectl would: empty lists stay).
func newPolicy(ctx context.Context, ns, name, spec string) *meshv1alpha1.AuthorizationPolicy {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	var specMap map[string]any
	ExpectWithOffset(1, yaml.Unmarshal([]byte(spec), &specMap)).To(Succeed())
	u.Object["spec"] = specMap
	u.SetAPIVersion(meshv1alpha1.GroupVersion.String())
	u.SetKind("AuthorizationPolicy")
	u.SetNamespace(ns)
	u.SetName(name)
	ExpectWithOffset(1, k8s.Create(ctx, u)).To(Succeed())
	p := &meshv1alpha1.AuthorizationPolicy{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(u), p)).To(Succeed())
	return p
}

// status polls the policy's status.
func status(ctx context.Context, p *meshv1alpha1.AuthorizationPolicy) func() meshv1alpha1.AuthorizationPolicyStatus {
	return func() meshv1alpha1.AuthorizationPolicyStatus {
		var got meshv1alpha1.AuthorizationPolicy
		ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(p), &got)).To(Succeed())
		return got.Status
	}
}

func accepted(st metav1.ConditionStatus, reason string, enforcedBy meshv1alpha1.EnforcementPoint, message string) OmegaMatcher {
	return And(
		HaveField("EnforcedBy", enforcedBy),
		HaveField("Conditions", ContainElement(And(
			HaveField("Type", meshv1alpha1.ConditionAccepted), HaveField("Status", st), HaveField("Reason", reason),
			HaveField("Message", ContainSubstring(message))))))
}

var _ = Describe("AuthorizationPolicy status", func() {
	It("says ztunnels enforce a selector policy, and mesh-wide ones from the root namespace", func(ctx context.Context) {
		ns := newNamespace(ctx, "", nil)
		p := newPolicy(ctx, ns, "db", `{selector: {matchLabels: {app: db}}, rules: [{from: [{source: {principals: [cluster.local/ns/app/sa/api]}}]}]}`)
		Eventually(status(ctx, p)).Should(And(
			accepted("True", "Accepted", "Ztunnel", "pods of its namespace matching its selector"),
			HaveField("ObservedGeneration", p.Generation)))

		newNamespace(ctx, rootNamespace, nil)
		mesh := newPolicy(ctx, rootNamespace, "deny-plaintext", `{action: DENY, rules: [{from: [{source: {notPrincipals: ['*']}}]}]}`)
		Eventually(status(ctx, mesh)).Should(accepted("True", "Accepted", "Ztunnel", "every pod of the mesh"))
	})

	It("follows a Service target from missing, to no waypoint, to its waypoint", func(ctx context.Context) {
		ns := newNamespace(ctx, "", nil)
		p := newPolicy(ctx, ns, "web", `{targetRefs: [{kind: Service, name: web}], rules: [{to: [{operation: {methods: [GET]}}]}]}`)
		Eventually(status(ctx, p)).Should(accepted("False", "TargetNotFound", "None", "Service web does not exist"))

		svc := service(ns, "web", nil)
		create(ctx, svc)
		Eventually(status(ctx, p)).Should(accepted("False", "WaypointRequired", "Ztunnel",
			"Service web uses no waypoint (neither the Service nor its Namespace has the label mesh.wayfabric.io/use-waypoint)"))

		create(ctx, waypoint(ns, "wp"))
		patch := client.MergeFrom(svc.DeepCopy())
		svc.Labels = useWaypoint("wp")
		Expect(k8s.Patch(ctx, svc, patch)).To(Succeed())
		Eventually(status(ctx, p)).Should(And(
			accepted("True", "Accepted", "Waypoint", "Enforced by waypoint "+ns+"/wp for Service web."),
			HaveField("Waypoints", Equal([]string{ns + "/wp"}))))
	})

	It("follows the namespace's use-waypoint label and the Waypoint's existence", func(ctx context.Context) {
		ns := newNamespace(ctx, "", useWaypoint("ns-wp"))
		create(ctx, service(ns, "api", nil))
		p := newPolicy(ctx, ns, "api", `{targetRefs: [{kind: Service, name: api}], rules: [{to: [{operation: {paths: ['/v1/*']}}]}]}`)
		Eventually(status(ctx, p)).Should(accepted("False", "WaypointRequired", "Ztunnel", "names Waypoint ns-wp, which does not exist"))
		create(ctx, waypoint(ns, "ns-wp"))
		Eventually(status(ctx, p)).Should(accepted("True", "Accepted", "Waypoint", "waypoint "+ns+"/ns-wp"))
	})

	It("mixes waypoint and ztunnel targets, and resolves Waypoint and Gateway targets", func(ctx context.Context) {
		ns := newNamespace(ctx, "", nil)
		create(ctx, waypoint(ns, "wp"))
		create(ctx, waypoint(ns, "gw"))
		create(ctx, service(ns, "web", useWaypoint("wp")))
		create(ctx, service(ns, "db", nil))
		mixed := newPolicy(ctx, ns, "mixed", `{targetRefs: [{kind: Service, name: web}, {kind: Service, name: db}], rules: [{from: [{source: {namespaces: [shop]}}]}]}`)
		Eventually(status(ctx, mixed)).Should(accepted("True", "Accepted", "WaypointAndZtunnel", "destination ztunnels of Service db (no waypoint; L4 fields only)"))

		gw := newPolicy(ctx, ns, "on-gateway", `{targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}, {group: mesh.wayfabric.io, kind: Waypoint, name: wp}], action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}`)
		Eventually(status(ctx, gw)).Should(And(
			accepted("True", "Accepted", "Waypoint", "by waypoint "+ns+"/gw for Gateway gw; by waypoint "+ns+"/wp for Waypoint wp"),
			HaveField("Waypoints", Equal([]string{ns + "/gw", ns + "/wp"}))))

		missing := newPolicy(ctx, ns, "missing", `{targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: nope}]}`)
		Eventually(status(ctx, missing)).Should(accepted("False", "TargetNotFound", "None", "Gateway nope has no Waypoint of the same name"))
	})

	It("reports a policy that does not compile, and that it fails closed", func(ctx context.Context) {
		ns := newNamespace(ctx, "", nil)
		// The API accepts an empty list; the compiler refuses a source that matches on nothing.
		p := newPolicy(ctx, ns, "empty-source", `{selector: {matchLabels: {app: db}}, rules: [{from: [{source: {principals: []}}]}]}`)
		Eventually(status(ctx, p)).Should(accepted("False", "Invalid", "Ztunnel",
			"rules[0].from[0].source.principals: a source must set at least one field. It fails closed: every ztunnel enforcing it denies every request and connection"))

		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		patch := client.MergeFrom(p.DeepCopy())
		p.Spec.Rules[0].From[0].Source.Principals = []meshv1alpha1.StringMatch{"cluster.local/ns/app/sa/api"}
		Expect(k8s.Patch(ctx, p, patch)).To(Succeed())
		Eventually(status(ctx, p)).Should(And(accepted("True", "Accepted", "Ztunnel", ""), HaveField("ObservedGeneration", p.Generation)))
	})

	It("writes nothing while nothing changes", func(ctx context.Context) {
		ns := newNamespace(ctx, "", nil)
		p := newPolicy(ctx, ns, "quiet", `{action: AUDIT, rules: [{}]}`)
		Eventually(status(ctx, p)).Should(accepted("True", "Accepted", "Ztunnel", ""))
		var before meshv1alpha1.AuthorizationPolicy
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), &before)).To(Succeed())
		create(ctx, service(ns, "unrelated", nil)) // triggers a reconcile of the namespace's policies
		Consistently(func() string {
			var got meshv1alpha1.AuthorizationPolicy
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), &got)).To(Succeed())
			return got.ResourceVersion
		}, "2s", "200ms").Should(Equal(before.ResourceVersion))
	})
})
