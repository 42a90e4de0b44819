package autoscaling

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// step is one tick for one Waypoint: collect, decide, apply, write status.
// Every status field the autoscaler owns is in every write (server-side
// apply would remove a left-out field), so a failed collection keeps the
// last load and recommendation and the desired count is held.
func (c *Controller) step(ctx context.Context, wp *meshv1alpha1.Waypoint, st *state) error {
	key := client.ObjectKeyFromObject(wp)
	now := time.Now()
	out := &ownedStatus{Load: st.load}
	cfgErr := st.configure(wp)
	c.reportConfig(wp, st, cfgErr)
	if st.rec != nil {
		out.Recommendation = st.recommendation
	}

	deploy, err := c.deployment(ctx, wp)
	if err != nil {
		return err
	}
	snap, collectErr := c.source.Collect(ctx, key)
	if collectErr != nil {
		collectionErrors.WithLabelValues(key.Namespace, key.Name, "list").Inc()
		if msg := collectErr.Error(); msg != st.lastCollectErr {
			c.log.Error(collectErr, "collecting load", "waypoint", key.String())
			st.lastCollectErr = msg
		}
	} else {
		st.lastCollectErr = ""
		recordLoadMetrics(key.Namespace, key.Name, snap)
		out.Load = summarizeLoad(snap)
	}

	var decision *horizontal.Decision
	if wp.HorizontalEnabled() {
		if st.decided {
			out.DesiredReplicas = new(st.desired)
		}
		switch {
		case st.hz == nil:
			out.Conditions = []metav1.Condition{inactiveCondition(wp.Generation, ReasonInvalidConfig, cfgErr)}
		case collectErr != nil:
			out.Conditions = []metav1.Condition{inactiveCondition(wp.Generation, ReasonCollectionFailed, collectErr)}
		default:
			d, err := c.scale(wp, st, deploy, snap, now)
			if err != nil {
				return err
			}
			decision = &d
			out.DesiredReplicas = new(st.desired)
			out.Conditions = []metav1.Condition{activeCondition(wp.Generation, d), limitedCondition(wp.Generation, d)}
		}
	}
	if st.rec != nil && collectErr == nil {
		busy := (decision != nil && decision.Panic) || rollingOut(deploy)
		c.recommend(ctx, wp, st, deploy, snap, busy, now)
		out.Recommendation = st.recommendation
	}
	st.load = out.Load
	return c.writeIfNeeded(ctx, wp, st, out, now)
}

// reportConfig records a Warning event when the spec cannot be turned into
// a policy, once per distinct error; for horizontal errors ScalingActive
// also says so.
func (c *Controller) reportConfig(wp *meshv1alpha1.Waypoint, st *state, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != st.lastConfigErr && msg != "" {
		c.event(wp, corev1.EventTypeWarning, ReasonInvalidConfig, events.ActionReconcile, "autoscaling is not applied: "+msg)
	}
	st.lastConfigErr = msg
}

// writeIfNeeded writes at once when something a reader acts on changed
// (desired count, a condition's status or reason, an applied change), and
// otherwise refreshes load and messages every StatusInterval.
func (c *Controller) writeIfNeeded(ctx context.Context, wp *meshv1alpha1.Waypoint, st *state, out *ownedStatus, now time.Time) error {
	out.mergeTimes(wp.Status.Conditions, metav1.NewTime(now))
	k := out.key()
	if k == st.lastKey && now.Sub(st.lastWrite) < c.opts.StatusInterval {
		return nil
	}
	if err := c.write(ctx, wp, out); err != nil {
		return err
	}
	st.lastKey, st.lastWrite = k, now
	return nil
}

// scale runs the horizontal policy and records the decision.
func (c *Controller) scale(wp *meshv1alpha1.Waypoint, st *state, deploy *appsv1.Deployment, snap collector.Snapshot, now time.Time) (horizontal.Decision, error) {
	current := st.desired
	if !st.decided {
		var running *int32
		if deploy != nil {
			running = deploy.Spec.Replicas
		}
		current = wp.StartingReplicas(running)
	}
	d, err := st.hz.Decide(horizontal.Input{Now: now, Samples: samples(snap), ReadyReplicas: snap.Ready, CurrentReplicas: current})
	if err != nil {
		return d, fmt.Errorf("horizontal policy of Waypoint %s/%s: %w", wp.Namespace, wp.Name, err)
	}
	st.desired, st.decided = d.DesiredReplicas, true
	decisionsTotal.WithLabelValues(wp.Namespace, wp.Name, direction(current, d.DesiredReplicas), string(d.Reason)).Inc()
	desiredReplicas.WithLabelValues(wp.Namespace, wp.Name).Set(float64(d.DesiredReplicas))
	if d.DesiredReplicas != current {
		c.log.Info("scaling waypoint", "waypoint", wp.Namespace+"/"+wp.Name, "from", current, "to", d.DesiredReplicas, "reason", d.Reason, "message", d.Message)
		c.event(wp, corev1.EventTypeNormal, string(d.Reason), events.ActionScale, d.Message)
	}
	return d, nil
}

// deployment reads the Waypoint's Deployment (same name) from the cache.
func (c *Controller) deployment(ctx context.Context, wp *meshv1alpha1.Waypoint) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(wp), &d); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Deployment %s/%s: %w", wp.Namespace, wp.Name, err)
	}
	return &d, nil
}

// rollingOut reports whether the Deployment has not finished its rollout:
// vertical changes wait for it (Busy).
func rollingOut(d *appsv1.Deployment) bool {
	if d == nil {
		return false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration < d.Generation || s.UpdatedReplicas < want || s.Replicas > s.UpdatedReplicas
}

// verticalOf is spec.autoscaling.vertical (nil-safe).
func verticalOf(wp *meshv1alpha1.Waypoint) *meshv1alpha1.VerticalAutoscaling {
	if wp.Spec.Autoscaling == nil {
		return nil
	}
	return wp.Spec.Autoscaling.Vertical
}
