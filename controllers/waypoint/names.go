package waypoint

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// FieldOwner is the server-side-apply field manager of everything this
// reconciler writes, status included.
const FieldOwner = "wayfabric-waypoint"

// Defaults used when the spec leaves a field empty.
const (
	defaultDrainSeconds = 30
	// terminationMargin is added to the drain so the kubelet does not SIGKILL
	// a waypoint that is still closing its last connections.
	terminationMargin = 5
	tokenAudience     = "wayfabric"
	tokenPath         = "/var/run/secrets/wayfabric/tokens"
	trustBundlePath   = "/var/run/secrets/wayfabric/ca"
	// uid/gid of the distroless "nonroot" user; set explicitly so
	// runAsNonRoot can be verified by the kubelet for any image.
	nonRootID = 65532
)

// selectorLabels select a waypoint's pods. They are immutable in the
// Deployment, so they hold only what never changes.
func selectorLabels(wp *meshv1alpha1.Waypoint) map[string]string {
	return map[string]string{meta.LabelName: "waypoint", meshv1alpha1.LabelWaypoint: wp.Name}
}

// objectLabels go on every child object and pod.
func objectLabels(wp *meshv1alpha1.Waypoint) map[string]string {
	return meta.Merge(selectorLabels(wp), map[string]string{
		meta.LabelInstance:  wp.Name,
		meta.LabelManagedBy: meta.ManagedBy,
		meta.LabelPartOf:    "wayfabric",
	})
}

// podLabels: waypoints terminate HBONE themselves, so their pods opt out of
// ztunnel capture even in an enrolled namespace.
func podLabels(wp *meshv1alpha1.Waypoint) map[string]string {
	return meta.Merge(objectLabels(wp), map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeNone})
}

// Selector is the string form of the pod selector (status.selector, read by
// the scale subresource and the autoscaler).
func Selector(wp *meshv1alpha1.Waypoint) string {
	return labels.SelectorFromSet(selectorLabels(wp)).String()
}

// Version is the release a Waypoint runs: spec.version or the default.
func Version(wp *meshv1alpha1.Waypoint, defaultVersion string) string {
	if wp.Spec.Version != "" {
		return wp.Spec.Version
	}
	return defaultVersion
}

func drainSeconds(wp *meshv1alpha1.Waypoint) int32 {
	if u := wp.Spec.Upgrade; u != nil && u.DrainSeconds != nil {
		return *u.DrainSeconds
	}
	return defaultDrainSeconds
}

func ownerRef(wp *meshv1alpha1.Waypoint) []metav1.OwnerReference {
	return []metav1.OwnerReference{meta.ControllerRef(wp, meshv1alpha1.GroupVersion.WithKind("Waypoint"))}
}
