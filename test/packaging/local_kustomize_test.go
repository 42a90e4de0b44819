package packaging

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// localImage is what hack/e2e/images.sh builds and imports into the local cluster.
func localImage(name string) string { return "wayfabric.local/" + name + ":v0.1.0" }

// config/local is what `make run` and the e2e suite deploy: it must run the
// images built on this machine and point the manager at them by name, not by
// the position of an env var that a config/manager edit could move.
func TestLocalOverlayRunsTheLocallyBuiltOperator(t *testing.T) {
	var d appsv1.Deployment
	decode(t, find(t, build(t, "local"), "Deployment", "wayfabric-manager"), &d)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != localImage("manager") || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("manager image %s (pull %s), want %s (pull Never)", c.Image, c.ImagePullPolicy, localImage("manager"))
	}
	want := map[string]string{"RELATED_IMAGE_WAYPOINT": "wayfabric.local/waypoint", "RELATED_IMAGE_ZTUNNEL": "wayfabric.local/ztunnel"}
	for _, e := range c.Env {
		if v, ok := want[e.Name]; ok {
			if e.Value != v {
				t.Errorf("%s=%q, want %q", e.Name, e.Value, v)
			}
			delete(want, e.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("the manager has no env %v", want)
	}
}

// config/demo is the transparent mesh `make run` shows: everything in
// namespace demo, only local images, the namespace enrolled and using the
// demo's own Waypoint, the 80/20 split on the Service the clients call, and
// load clients that are plain HTTP clients (the ztunnel does the mesh's
// work: no proxy flags, no certificates, no tokens, no trust bundle).
func TestDemoMeshIsSelfConsistent(t *testing.T) {
	objs := build(t, "demo")
	var wp meshv1alpha1.Waypoint
	decode(t, find(t, objs, "Waypoint", "waypoint"), &wp)
	var ns corev1.Namespace
	decode(t, find(t, objs, "Namespace", "demo"), &ns)
	for k, want := range map[string]string{meshv1alpha1.LabelDataplaneMode: meshv1alpha1.DataplaneModeAmbient, meshv1alpha1.LabelUseWaypoint: wp.Name} {
		if got := ns.Labels[k]; got != want {
			t.Errorf("namespace demo: label %s=%q, want %q", k, got, want)
		}
	}
	var echo corev1.Service
	decode(t, find(t, objs, "Service", "echo"), &echo)
	if got, ok := echo.Labels[meshv1alpha1.LabelUseWaypoint]; ok && got != wp.Name {
		t.Errorf("Service echo uses waypoint %q; the demo's Waypoint is %q", got, wp.Name)
	}
	var route gatewayv1.HTTPRoute
	decode(t, find(t, objs, "HTTPRoute", "echo-split"), &route)
	weights := map[string]int32{}
	for _, rule := range route.Spec.Rules {
		for _, b := range rule.BackendRefs {
			weights[string(b.Name)] = *b.Weight
			find(t, objs, "Service", string(b.Name))
		}
	}
	if len(route.Spec.ParentRefs) != 1 || string(route.Spec.ParentRefs[0].Name) != echo.Name || weights["echo-a"] != 80 || weights["echo-b"] != 20 {
		t.Errorf("HTTPRoute echo-split: parents %v, weights %v; want Service echo split 80/20 between echo-a and echo-b", route.Spec.ParentRefs, weights)
	}
	// Flags that would make the client do the mesh's work itself.
	meshFlags := []string{"-hbone-proxy", "-peer-identity", "-ca-url", "-root-cert", "-token-file", "-trust-domain"}
	deployments, clients := 0, 0
	for _, r := range objs {
		if r.GetKind() != "Namespace" && r.GetNamespace() != "demo" {
			t.Errorf("%s %s is in namespace %q, want demo", r.GetKind(), r.GetName(), r.GetNamespace())
		}
		if r.GetKind() != "Deployment" {
			continue
		}
		deployments++
		var d appsv1.Deployment
		decode(t, r, &d)
		if v := d.Spec.Template.Labels[meshv1alpha1.LabelDataplaneMode]; v != "" {
			t.Errorf("%s: pod label %s=%q; the namespace enrolls the demo", d.Name, meshv1alpha1.LabelDataplaneMode, v)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image != localImage("echo") || c.ImagePullPolicy != corev1.PullNever {
				t.Errorf("%s: image %s (pull %s), want %s (pull Never)", d.Name, c.Image, c.ImagePullPolicy, localImage("echo"))
			}
			if len(c.Args) == 0 || c.Args[0] != "load" {
				continue
			}
			clients++
			args := strings.Join(c.Args, " ")
			if !strings.Contains(args, "-url=http://echo.demo.svc:8080/") {
				t.Errorf("%s: load args %q do not call http://echo.demo.svc:8080/", d.Name, args)
			}
			for _, f := range meshFlags {
				if strings.Contains(args, f) {
					t.Errorf("%s: load args %q carry %s: the client must be a plain HTTP client", d.Name, args, f)
				}
			}
			if len(c.VolumeMounts) > 0 || len(d.Spec.Template.Spec.Volumes) > 0 {
				t.Errorf("%s: the client mounts %v; it needs no token or trust bundle", d.Name, c.VolumeMounts)
			}
		}
	}
	if deployments != 3 || clients != 1 {
		t.Errorf("config/demo has %d Deployments with %d load clients, want echo-a, echo-b and load", deployments, clients)
	}
}
