package packaging

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const namespace = "wayfabric-system"

// buildDefault runs `kustomize build config/default` in process, offline.
func buildDefault(t *testing.T) []*resource.Resource { t.Helper(); return build(t, "default") }

// build runs `kustomize build config/<name>` in process, offline.
func build(t *testing.T, name string) []*resource.Resource {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "config", name)
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return m.Resources()
}

func TestDefaultKustomizationYieldsTheInstall(t *testing.T) {
	objs := buildDefault(t)
	have := map[string]bool{}
	for _, r := range objs {
		have[r.GetKind()+"/"+r.GetName()] = true
		if ns := r.GetNamespace(); ns != "" && ns != namespace {
			t.Errorf("%s/%s is in namespace %q, want %q", r.GetKind(), r.GetName(), ns, namespace)
		}
	}
	for _, want := range []string{
		"Namespace/" + namespace,
		"CustomResourceDefinition/waypoints.mesh.wayfabric.io",
		"CustomResourceDefinition/ztunnelconfigs.mesh.wayfabric.io",
		"ServiceAccount/wayfabric-manager",
		"Deployment/wayfabric-manager",
		"Service/wayfabric-ca",
		"Service/wayfabric-manager-metrics",
	} {
		if !have[want] {
			t.Errorf("kustomize build config/default has no %s; it has %v", want, sortedNames(have))
		}
	}
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		if !slices.ContainsFunc(objs, func(r *resource.Resource) bool { return r.GetKind() == kind }) {
			t.Errorf("kustomize build config/default has no %s", kind)
		}
	}
}

func TestManagerDeploymentIsHardened(t *testing.T) {
	d := managerDeployment(t)
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one manager container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	checks := []struct {
		name string
		ok   bool
	}{
		{"pod runAsNonRoot", pod.SecurityContext != nil && ptrTrue(pod.SecurityContext.RunAsNonRoot)},
		{"pod seccomp RuntimeDefault", pod.SecurityContext != nil && pod.SecurityContext.SeccompProfile != nil &&
			pod.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"container readOnlyRootFilesystem", c.SecurityContext != nil && ptrTrue(c.SecurityContext.ReadOnlyRootFilesystem)},
		{"container allowPrivilegeEscalation false", c.SecurityContext != nil && c.SecurityContext.AllowPrivilegeEscalation != nil &&
			!*c.SecurityContext.AllowPrivilegeEscalation},
		{"container drops ALL capabilities", c.SecurityContext != nil && c.SecurityContext.Capabilities != nil &&
			slices.Contains(c.SecurityContext.Capabilities.Drop, "ALL")},
		{"cpu request", !c.Resources.Requests.Cpu().IsZero()},
		{"memory request", !c.Resources.Requests.Memory().IsZero()},
		{"liveness probe /healthz on :8081", probeIs(c.LivenessProbe, "/healthz", c, 8081)},
		{"readiness probe /readyz on :8081", probeIs(c.ReadinessProbe, "/readyz", c, 8081)},
		{"flag --leader-elect", slices.Contains(c.Args, "--leader-elect")},
		{"flag --metrics-secure", slices.Contains(c.Args, "--metrics-secure")},
		{"flag --metrics-bind-address=:8443", slices.Contains(c.Args, "--metrics-bind-address=:8443")},
		{"flag --health-probe-bind-address=:8081", slices.Contains(c.Args, "--health-probe-bind-address=:8081")},
		{"env RELATED_IMAGE_WAYPOINT", envSet(c, "RELATED_IMAGE_WAYPOINT")},
		{"env RELATED_IMAGE_ZTUNNEL", envSet(c, "RELATED_IMAGE_ZTUNNEL")},
		{"image ghcr.io/wayfabric/manager:v<version>", strings.HasPrefix(c.Image, "ghcr.io/wayfabric/manager:v")},
		{"service account wayfabric-manager", pod.ServiceAccountName == "wayfabric-manager"},
	}
	for _, ck := range checks {
		if !ck.ok {
			t.Errorf("manager Deployment: missing %s", ck.name)
		}
	}
}

func TestCAServiceTargetsTheManager(t *testing.T) {
	d := managerDeployment(t)
	var svc corev1.Service
	decode(t, find(t, buildDefault(t), "Service", "wayfabric-ca"), &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 15012 {
		t.Fatalf("CA Service ports = %+v, want exactly 15012", svc.Spec.Ports)
	}
	target := svc.Spec.Ports[0].TargetPort.String()
	if !slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool {
		return p.ContainerPort == 15012 && (p.Name == target || target == "15012")
	}) {
		t.Errorf("CA Service targets port %q, which the manager container does not expose as 15012", target)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("CA Service selector %s=%s does not match the manager pods (%v)", k, v, d.Spec.Template.Labels)
		}
	}
}

func managerDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	decode(t, find(t, buildDefault(t), "Deployment", "wayfabric-manager"), &d)
	return &d
}

func find(t *testing.T, objs []*resource.Resource, kind, name string) *resource.Resource {
	t.Helper()
	for _, r := range objs {
		if r.GetKind() == kind && r.GetName() == name {
			return r
		}
	}
	t.Fatalf("the kustomize build has no %s %s", kind, name)
	return nil
}

func decode(t *testing.T, r *resource.Resource, into runtime.Object) {
	t.Helper()
	data, err := r.AsYAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s %s: %v", r.GetKind(), r.GetName(), err)
	}
}

func probeIs(p *corev1.Probe, path string, c corev1.Container, port int32) bool {
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
		return false
	}
	if p.HTTPGet.Port.IntVal == port {
		return true
	}
	return slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
		return cp.Name == p.HTTPGet.Port.StrVal && cp.ContainerPort == port
	})
}

func envSet(c corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name && e.Value != "" })
}

func ptrTrue(b *bool) bool { return b != nil && *b }

func sortedNames(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
