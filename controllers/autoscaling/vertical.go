package autoscaling

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// recommend feeds the recommender, decides whether to apply, and applies:
// Recommend writes status only; Rolling records Applied (the Deployment
// builder then rolls the fleet); InPlace resizes the running pods one at a
// time and records Applied when they are all done.
func (c *Controller) recommend(ctx context.Context, wp *meshv1alpha1.Waypoint, st *state, deploy *appsv1.Deployment, snap collector.Snapshot, busy bool, now time.Time) {
	for _, r := range snap.Replicas {
		if !r.HasCPU {
			continue // first report of a pod: no CPU rate yet
		}
		if err := st.rec.AddSample(vertical.Sample{Replica: r.Pod, Time: now, CPUCores: r.CPUCores, MemoryBytes: float64(r.MemoryBytes)}); err != nil {
			c.log.V(1).Info("vertical sample rejected", "waypoint", wp.Namespace+"/"+wp.Name, "pod", r.Pod, "error", err.Error())
		}
	}
	rec, ok := st.rec.Recommendation()
	mode := verticalMode(wp)
	if st.resize == nil && ok {
		var last time.Time
		if st.lastApplied != nil {
			last = st.lastApplied.Time
		}
		u, err := vertical.DecideUpdate(UpdatePolicy(verticalOf(wp), mode), vertical.UpdateInput{
			Now: now, Current: c.currentRequests(wp, st, deploy), Recommendation: &rec, LastChange: last, Busy: busy,
		})
		if err != nil {
			c.log.Error(err, "vertical update decision", "waypoint", wp.Namespace+"/"+wp.Name)
		} else {
			c.logUpdate(wp, st, u)
			if u.Apply {
				c.startUpdate(wp, st, mode, u, now)
			}
		}
	}
	if st.resize == nil && mode == vertical.ModeInPlace && len(st.applied) > 0 && !busy && !now.Before(st.resizeBackoff) {
		// New pods start from the template; bring them to Applied too.
		if target := toResources(st.applied); c.drifted(ctx, wp, target) {
			st.resize = &resizeRun{target: target, done: map[string]bool{}, catchUp: true}
		}
	}
	// A resize never lands in the middle of a burst or a rollout.
	if st.resize != nil && !busy {
		c.stepResize(ctx, wp, st, now)
	}
	if ok {
		st.recommendation = &meshv1alpha1.VerticalRecommendation{
			Target: toList(rec.Target), LowerBound: toList(rec.LowerBound), UpperBound: toList(rec.UpperBound),
		}
	} else if st.recommendation == nil && len(st.applied) > 0 {
		st.recommendation = &meshv1alpha1.VerticalRecommendation{}
	}
	if st.recommendation != nil {
		st.recommendation.Applied = st.applied.DeepCopy()
		st.recommendation.LastApplied = st.lastApplied.DeepCopy()
	}
}

// startUpdate acts on an update decision to apply.
func (c *Controller) startUpdate(wp *meshv1alpha1.Waypoint, st *state, mode vertical.Mode, u vertical.UpdateDecision, now time.Time) {
	c.event(wp, corev1.EventTypeNormal, string(u.Reason), events.ActionResize, u.Message)
	if mode == vertical.ModeInPlace {
		st.resize = &resizeRun{target: u.NewRequests, done: map[string]bool{}}
		return
	}
	st.applied, st.lastApplied = toList(u.NewRequests), stamp(now)
}

// currentRequests is what the replicas request now: what was last applied,
// else the Deployment template's waypoint container, else the spec.
func (c *Controller) currentRequests(wp *meshv1alpha1.Waypoint, st *state, deploy *appsv1.Deployment) vertical.Resources {
	if len(st.applied) > 0 {
		return toResources(st.applied)
	}
	if deploy != nil {
		if ctr := container(deploy.Spec.Template.Spec.Containers); ctr != nil {
			return toResources(ctr.Resources.Requests)
		}
	}
	return toResources(wp.TemplateResources().Requests)
}

// logUpdate logs the vertical decision when its rule changes, not every tick.
func (c *Controller) logUpdate(wp *meshv1alpha1.Waypoint, st *state, u vertical.UpdateDecision) {
	if u.Reason != st.lastUpdate {
		c.log.Info("vertical decision", "waypoint", wp.Namespace+"/"+wp.Name, "reason", u.Reason, "message", u.Message)
		st.lastUpdate = u.Reason
	}
}

func (c *Controller) event(wp *meshv1alpha1.Waypoint, typ, reason, action, msg string) {
	events.Record(c.recorder, wp, nil, typ, reason, action, msg)
}

// container is the waypoint container, or the first one.
func container(cs []corev1.Container) *corev1.Container {
	for i := range cs {
		if cs[i].Name == meshv1alpha1.WaypointContainerName {
			return &cs[i]
		}
	}
	if len(cs) > 0 {
		return &cs[0]
	}
	return nil
}
