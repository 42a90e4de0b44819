package packaging

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

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

// config/demo is the mesh `make run` shows: everything in namespace demo,
// only local images, and load clients that tunnel to the demo's Waypoint
// under the identity that Waypoint's pods hold.
func TestDemoMeshIsSelfConsistent(t *testing.T) {
	objs := build(t, "demo")
	var wp meshv1alpha1.Waypoint
	decode(t, find(t, objs, "Waypoint", "waypoint"), &wp)
	var echo corev1.Service
	decode(t, find(t, objs, "Service", "echo"), &echo)
	if got := echo.Labels["mesh.wayfabric.io/use-waypoint"]; got != wp.Name {
		t.Errorf("Service echo uses waypoint %q; the demo's Waypoint is %q", got, wp.Name)
	}
	wantArgs := []string{
		fmt.Sprintf("-hbone-proxy=%s.demo.svc:15008", wp.Name),
		fmt.Sprintf("-peer-identity=spiffe://cluster.local/ns/demo/sa/%s", wp.Name),
		"-url=http://echo.demo.svc:8080/",
	}
	deployments := 0
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
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image != localImage("echo") || c.ImagePullPolicy != corev1.PullNever {
				t.Errorf("%s: image %s (pull %s), want %s (pull Never)", d.Name, c.Image, c.ImagePullPolicy, localImage("echo"))
			}
			if len(c.Args) == 0 || c.Args[0] != "load" {
				continue
			}
			for _, env := range []string{"POD_NAMESPACE", "SERVICE_ACCOUNT"} { // echo load's own identity
				if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == env && e.ValueFrom != nil }) {
					t.Errorf("%s: load container has no %s from the downward API", d.Name, env)
				}
			}
			args := strings.Join(c.Args, " ")
			for _, w := range wantArgs {
				if !strings.Contains(args, w) {
					t.Errorf("%s: load args %q lack %q", d.Name, args, w)
				}
			}
		}
	}
	if deployments != 3 {
		t.Errorf("config/demo has %d Deployments, want echo-a, echo-b and load", deployments)
	}
}
