package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

// The manager caches the pods it creates (waypoint replicas, ztunnels) and
// no other: the labels come from the real builders' pod templates.
func TestPodCacheSelector(t *testing.T) {
	wp := &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Name: "wp", Namespace: "apps"}}
	zc := &meshv1alpha1.ZtunnelConfig{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	sel := PodCacheSelector()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"waypoint replica", waypoint.BuildDeployment(wp, waypoint.DeploymentInput{ImageRepo: "r", DefaultVersion: "v0.1.0", Replicas: 1}).Spec.Template.Labels, true},
		{"ztunnel", ztunnel.BuildDaemonSet(zc, ztunnel.DaemonSetInput{Namespace: "wayfabric-system", ImageRepo: "r", DefaultVersion: "v0.1.0"}).Spec.Template.Labels, true},
		{"the manager itself", map[string]string{"app.kubernetes.io/name": "wayfabric", "app.kubernetes.io/component": "manager"}, false},
		{"another mesh's ztunnel", map[string]string{"app": "ztunnel", "app.kubernetes.io/name": "ztunnel", "app.kubernetes.io/managed-by": "Helm"}, false},
		{"an application", map[string]string{"app": "echo"}, false},
		{"an application labelled like a waypoint, not by us", map[string]string{"app.kubernetes.io/name": "waypoint"}, false},
	} {
		if got := sel.Matches(labels.Set(tc.labels)); got != tc.want {
			t.Errorf("%s (%v): cached = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
