package ztunnel

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
	wfmeta "github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// DefaultStatusRefresh is how often an active ZtunnelConfig is reconciled
// without any event, so that capturedPods (which changes without a pod of
// the DaemonSet changing) stays fresh.
const DefaultStatusRefresh = 30 * time.Second

// observe fills s with what the config's ztunnel pods show: why any of
// them cannot serve, and, from the ready ones, versions and captured pods.
func (r *Reconciler) observe(ctx context.Context, zc *meshv1alpha1.ZtunnelConfig, ns string, s *Situation) error {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(selectorLabels(zc))); err != nil {
		return fmt.Errorf("listing the ztunnel pods of ZtunnelConfig %s: %w", zc.Name, err)
	}
	s.Failures = DiagnosePods(pods.Items)
	var ready []*corev1.Pod
	for i := range pods.Items {
		if collector.PodReady(&pods.Items[i]) {
			ready = append(ready, &pods.Items[i])
		}
	}
	var statuses map[types.UID]ztunnelstatus.Status
	if len(ready) > 0 && r.NodeStatus != nil {
		statuses = r.NodeStatus.Statuses(ctx, ready)
	}
	s.Observed = Observe(pods.Items, statuses)
	return nil
}

// warnPodFailures records a Warning event when Degraded turns to a pod
// failure, or to another one: `kubectl describe ztc` then tells the story.
func warnPodFailures(rec events.Recorder, zc *meshv1alpha1.ZtunnelConfig, st meshv1alpha1.ZtunnelConfigStatus) {
	now := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionDegraded)
	if now == nil || now.Status != "True" || !slices.Contains(failureOrder, now.Reason) {
		return
	}
	if old := meta.FindStatusCondition(zc.Status.Conditions, meshv1alpha1.ConditionDegraded); old != nil && old.Status == now.Status && old.Reason == now.Reason {
		return
	}
	events.Warning(rec, zc, now.Reason, events.ActionReconcile, now.Message)
}

// refresh is the requeue interval of an active config.
func (r *Reconciler) refresh() time.Duration {
	if r.StatusRefresh > 0 {
		return r.StatusRefresh
	}
	return DefaultStatusRefresh
}

// isZtunnelPod selects the pods of the DaemonSets this reconciler builds.
func isZtunnelPod(ns string) func(client.Object) bool {
	return func(o client.Object) bool {
		l := o.GetLabels()
		return o.GetNamespace() == ns && l[wfmeta.LabelName] == "ztunnel" &&
			l[wfmeta.LabelManagedBy] == wfmeta.ManagedBy && l[LabelConfig] != ""
	}
}

// podToConfig maps a ztunnel pod to its ZtunnelConfig.
func podToConfig(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetLabels()[LabelConfig]}}}
}
