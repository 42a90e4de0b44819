package waypoint

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/golden"
)

// goldenWaypoints are the specs whose built objects are pinned in testdata/.
func goldenWaypoints() map[string]*meshv1alpha1.Waypoint {
	meta := metav1.ObjectMeta{Name: "wp", Namespace: "shop", UID: types.UID("0000-uid"), Generation: 1}
	return map[string]*meshv1alpha1.Waypoint{
		"minimal": {ObjectMeta: meta},
		"full": {ObjectMeta: meta, Spec: meshv1alpha1.WaypointSpec{
			For: meshv1alpha1.TrafficAll, Version: "v1.2.3", Image: "mirror.local/waypoint:custom", Replicas: new(int32(3)),
			Resources: &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("96Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
			Upgrade:      &meshv1alpha1.WaypointUpgrade{MaxSurge: new(intstr.FromInt32(2)), DrainSeconds: new(int32(90))},
			NodeSelector: map[string]string{"pool": "mesh"},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh", Effect: corev1.TaintEffectNoSchedule}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 2, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{meshv1alpha1.LabelWaypoint: "wp"}}}},
		}},
	}
}

func TestGoldenObjects(t *testing.T) {
	for name, wp := range goldenWaypoints() {
		t.Run(name, func(t *testing.T) {
			golden.Check(t, name+"/serviceaccount", BuildServiceAccount(wp))
			golden.Check(t, name+"/service", BuildService(wp))
			golden.Check(t, name+"/poddisruptionbudget", BuildPodDisruptionBudget(wp))
			golden.Check(t, name+"/deployment", BuildDeployment(wp, DeploymentInput{
				ImageRepo: "ghcr.io/wayfabric/waypoint", DefaultVersion: "v0.1.0", Replicas: wp.DeploymentReplicas(nil),
				OperatorNamespace: "wayfabric-system",
			}))
		})
	}
}

func TestDeploymentFollowsVersionAndOverride(t *testing.T) {
	wp := goldenWaypoints()["minimal"]
	in := DeploymentInput{ImageRepo: "ghcr.io/wayfabric/waypoint", DefaultVersion: "v0.1.0", Replicas: 1}
	if got := BuildDeployment(wp, in).Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/wayfabric/waypoint:v0.1.0" {
		t.Errorf("default image = %q", got)
	}
	wp.Spec.Version = "v0.2.0"
	if got := BuildDeployment(wp, in).Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/wayfabric/waypoint:v0.2.0" {
		t.Errorf("image must follow spec.version, got %q", got)
	}
	// Rolling mode: the template carries the vertical autoscaler's applied requests.
	wp.Spec.Autoscaling = &meshv1alpha1.WaypointAutoscaling{Vertical: &meshv1alpha1.VerticalAutoscaling{Mode: meshv1alpha1.VerticalRolling}}
	wp.Status.Recommendation = &meshv1alpha1.VerticalRecommendation{Applied: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
	req := BuildDeployment(wp, in).Spec.Template.Spec.Containers[0].Resources.Requests
	if q := req[corev1.ResourceCPU]; q.String() != "2" {
		t.Errorf("applied requests not in the template: %v", req)
	}
}

func TestGoldenReader(t *testing.T) {
	golden.Check(t, "reader/clusterrole", BuildReaderClusterRole())
	wp := func(ns, name string, deleting bool) meshv1alpha1.Waypoint {
		w := meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if deleting {
			w.DeletionTimestamp = new(metav1.Now())
		}
		return w
	}
	// Unsorted input, one Waypoint being deleted: sorted subjects without it.
	golden.Check(t, "reader/clusterrolebinding", BuildReaderClusterRoleBinding([]meshv1alpha1.Waypoint{
		wp("shop", "wp", false), wp("bank", "wp", false), wp("bank", "gone", true), wp("bank", "a", false),
	}))
}
