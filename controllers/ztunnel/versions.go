package ztunnel

import (
	"cmp"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// UnknownVersion counts pods whose release cannot be told.
const UnknownVersion = "unknown"

// PodVersion is the release a ztunnel pod runs: its version label (set
// from spec.version), else its image tag (pods of an operator that did not
// set the label), else UnknownVersion.
func PodVersion(p *corev1.Pod) string {
	if v := p.Labels[meta.LabelVersion]; v != "" {
		return v
	}
	for _, c := range p.Spec.Containers {
		if c.Name != containerName {
			continue
		}
		ref, _, _ := strings.Cut(c.Image, "@")
		if i := strings.LastIndexAny(ref, ":/"); i >= 0 && ref[i] == ':' {
			return ref[i+1:]
		}
	}
	return UnknownVersion
}

// Observed is what the ztunnel pods of one config show.
type Observed struct {
	// Versions per release, oldest first.
	Versions []meshv1alpha1.ZtunnelVersionStatus
	// CapturedPods is the sum over ready ztunnels that answered and serve.
	CapturedPods int32
	// ReadyNodes are the nodes with a ready ztunnel pod of any version
	// that is not being deleted.
	ReadyNodes int32
}

// Observe counts, per release, the nodes with a ztunnel pod (not being
// deleted), the nodes with a ready one, and the pods the serving ones
// capture according to statuses (keyed by pod UID; pods that did not
// answer are absent and count no captured pods).
func Observe(pods []corev1.Pod, statuses map[types.UID]ztunnelstatus.Status) Observed {
	type tally struct {
		nodes, ready map[string]bool
		captured     int32
	}
	byVersion := map[string]*tally{}
	readyNodes := map[string]bool{}
	var out Observed
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Spec.NodeName == "" {
			continue
		}
		v := PodVersion(p)
		t := byVersion[v]
		if t == nil {
			t = &tally{nodes: map[string]bool{}, ready: map[string]bool{}}
			byVersion[v] = t
		}
		t.nodes[p.Spec.NodeName] = true
		if !collector.PodReady(p) {
			continue
		}
		t.ready[p.Spec.NodeName] = true
		readyNodes[p.Spec.NodeName] = true
		if st, ok := statuses[p.UID]; ok && st.Serving() {
			t.captured += int32(st.CapturedPods)
			out.CapturedPods += int32(st.CapturedPods)
		}
	}
	out.ReadyNodes = int32(len(readyNodes))
	for v, t := range byVersion {
		out.Versions = append(out.Versions, meshv1alpha1.ZtunnelVersionStatus{
			Version: v, Nodes: int32(len(t.nodes)), ReadyNodes: int32(len(t.ready)), CapturedPods: t.captured})
	}
	slices.SortFunc(out.Versions, func(a, b meshv1alpha1.ZtunnelVersionStatus) int { return compareVersions(a.Version, b.Version) })
	return out
}

// compareVersions orders releases by semantic version; anything that is not
// one (UnknownVersion, a custom tag) sorts after them, by name.
func compareVersions(a, b string) int {
	va, errA := semver.ParseTolerant(a)
	vb, errB := semver.ParseTolerant(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Or(va.Compare(vb), cmp.Compare(a, b))
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return cmp.Compare(a, b)
}
