package autoscaling

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// Event reasons of in-place resizing.
const (
	ReasonResized            = "Resized"
	ReasonResizeFailed       = "ResizeFailed"
	ReasonResizeInfeasible   = "ResizeInfeasible"
	ReasonInPlaceUnsupported = "InPlaceUnsupported"
)

// resizeTimeout bounds the wait for the kubelet to apply one pod's resize
// before the run is abandoned (and retried after minInterval).
const resizeTimeout = 2 * time.Minute

// resizeRun is an in-place resize of a Waypoint's ready pods, one at a time:
// a pod is resized, the run waits until the kubelet has applied it (no
// PodResizePending/PodResizeInProgress condition), then moves on.
type resizeRun struct {
	target       vertical.Resources
	pending      string // pod resized last, still being applied
	pendingSince time.Time
	// done are the pods resized by this run; the cache may still show them
	// with their old requests for a moment.
	done map[string]bool
	// catchUp runs resize pods that do not match an Applied recorded
	// earlier (new pods); they do not count as a change for minInterval.
	catchUp bool
}

// stepResize advances the run by at most one pod.
func (c *Controller) stepResize(ctx context.Context, wp *meshv1alpha1.Waypoint, st *state, now time.Time) {
	run := st.resize
	if run.pending != "" {
		wait, reason, err := c.resizeSettled(ctx, wp, run, now)
		if err != nil {
			c.abandon(wp, st, now, reason, err.Error())
			return
		}
		if wait {
			return
		}
		run.pending = ""
	}
	pods, err := c.pods(ctx, wp)
	if err != nil {
		c.log.Error(err, "listing pods to resize", "waypoint", wp.Namespace+"/"+wp.Name)
		return
	}
	for _, p := range pods {
		ctr := container(p.Spec.Containers)
		if run.done[p.Name] || !needsResize(p, run.target) {
			continue
		}
		if err := c.resizePod(ctx, wp, p, ctr, run.target); err != nil {
			if c.resizeUnsupported(ctx, p, err) {
				// Old cluster: fall back to a rolling update of the template.
				c.event(wp, corev1.EventTypeWarning, ReasonInPlaceUnsupported, events.ActionResize,
					fmt.Sprintf("the API server does not support pods/resize (%v); applying %s by a rolling update of the Deployment instead", err, run.target))
				if !run.catchUp {
					st.lastApplied = stamp(now)
				}
				st.applied, st.resize, st.resizeBackoff = toList(run.target), nil, now.Add(minInterval(wp))
				return
			}
			c.abandon(wp, st, now, ReasonResizeFailed, fmt.Sprintf("resizing pod %s to %s: %v", p.Name, run.target, err))
			return
		}
		run.pending, run.pendingSince = p.Name, now
		run.done[p.Name] = true
		c.log.Info("resized pod in place", "waypoint", wp.Namespace+"/"+wp.Name, "pod", p.Name, "requests", run.target.String())
		return
	}
	st.resize = nil
	if run.catchUp {
		if len(run.done) > 0 {
			c.event(wp, corev1.EventTypeNormal, ReasonResized, events.ActionResize,
				fmt.Sprintf("resized %d new replicas in place to the applied %s", len(run.done), run.target))
		}
		return
	}
	c.event(wp, corev1.EventTypeNormal, ReasonResized, events.ActionResize,
		fmt.Sprintf("resized %d ready replicas in place, one at a time, to %s; status.recommendation.applied records it for new pods", len(run.done), run.target))
	st.applied, st.lastApplied = toList(run.target), stamp(now)
}

// pods lists a Waypoint's pods from the cache, by name so runs are ordered.
func (c *Controller) pods(ctx context.Context, wp *meshv1alpha1.Waypoint) ([]*corev1.Pod, error) {
	var list corev1.PodList
	if err := c.client.List(ctx, &list, client.InNamespace(wp.Namespace), client.MatchingLabels{meshv1alpha1.LabelWaypoint: wp.Name}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	out := make([]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// needsResize: a ready pod whose waypoint container requests differ from target.
func needsResize(p *corev1.Pod, target vertical.Resources) bool {
	ctr := container(p.Spec.Containers)
	return collector.PodReady(p) && ctr != nil && toResources(ctr.Resources.Requests) != target
}

// drifted reports whether any ready pod needs a resize to target.
func (c *Controller) drifted(ctx context.Context, wp *meshv1alpha1.Waypoint, target vertical.Resources) bool {
	pods, err := c.pods(ctx, wp)
	if err != nil {
		return false
	}
	for _, p := range pods {
		if needsResize(p, target) {
			return true
		}
	}
	return false
}

func minInterval(wp *meshv1alpha1.Waypoint) time.Duration {
	return UpdatePolicy(verticalOf(wp), verticalMode(wp)).MinInterval
}

// resizeSettled reports whether the pending pod is still being resized.
// An infeasible resize (no node room) or a timeout is an error.
func (c *Controller) resizeSettled(ctx context.Context, wp *meshv1alpha1.Waypoint, run *resizeRun, now time.Time) (wait bool, reason string, err error) {
	var p corev1.Pod
	if err := c.client.Get(ctx, types.NamespacedName{Namespace: wp.Namespace, Name: run.pending}, &p); err != nil {
		return false, ReasonResizeFailed, client.IgnoreNotFound(err) // a deleted pod needs no waiting
	}
	for _, cond := range p.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch {
		case cond.Type == corev1.PodResizePending && cond.Reason == corev1.PodReasonInfeasible:
			return false, ReasonResizeInfeasible, fmt.Errorf("the kubelet cannot resize pod %s to %s: %s", p.Name, run.target, cond.Message)
		case cond.Type == corev1.PodResizePending || cond.Type == corev1.PodResizeInProgress:
			if now.Sub(run.pendingSince) > resizeTimeout {
				return false, ReasonResizeFailed, fmt.Errorf("pod %s was not resized to %s within %v (%s: %s)", p.Name, run.target, resizeTimeout, cond.Type, cond.Message)
			}
			return true, "", nil
		}
	}
	return false, "", nil
}

// abandon stops a run. The next attempt waits for minInterval instead of
// hammering the API server every second: a decision run moves lastApplied,
// a catch-up run backs off.
func (c *Controller) abandon(wp *meshv1alpha1.Waypoint, st *state, now time.Time, reason, msg string) {
	c.event(wp, corev1.EventTypeWarning, reason, events.ActionResize, msg+"; retrying after spec.autoscaling.vertical.minInterval")
	if !st.resize.catchUp {
		st.lastApplied = stamp(now)
	}
	st.resize, st.resizeBackoff = nil, now.Add(minInterval(wp))
}

// resizePod patches the waypoint container's CPU and memory requests, and
// limits by the Waypoint's one resources rule (ContainerResources), through
// the pods/resize subresource.
func (c *Controller) resizePod(ctx context.Context, wp *meshv1alpha1.Waypoint, p *corev1.Pod, ctr *corev1.Container, target vertical.Resources) error {
	want := wp.ContainerResources(toList(target))
	res := map[string]any{"requests": toList(target)}
	if l := toList(toResources(want.Limits)); len(l) > 0 {
		res["limits"] = l
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": []any{
		map[string]any{"name": ctr.Name, "resources": res},
	}}})
	if err != nil {
		return err
	}
	return c.client.SubResource("resize").Patch(ctx, p, client.RawPatch(types.StrategicMergePatchType, patch))
}

// resizeUnsupported tells "the API server has no pods/resize" (before
// Kubernetes 1.33) from a pod that went away.
func (c *Controller) resizeUnsupported(ctx context.Context, p *corev1.Pod, err error) bool {
	if apierrors.IsMethodNotSupported(err) {
		return true
	}
	if !apierrors.IsNotFound(err) {
		return false
	}
	var again corev1.Pod
	return c.client.Get(ctx, client.ObjectKeyFromObject(p), &again) == nil
}

func stamp(t time.Time) *metav1.Time { return &metav1.Time{Time: t.UTC().Truncate(time.Second)} }
