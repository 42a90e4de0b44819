package autoscaling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/internal/events"
)

// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.wayfabric.io,resources=waypoints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/resize,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Defaults of Options.
const (
	DefaultInterval       = time.Second
	DefaultStatusInterval = 10 * time.Second
	DefaultWorkers        = 8
)

// Options configure the Controller; zero values get the defaults.
type Options struct {
	// Interval between two collections of every Waypoint (about 1 s: the
	// horizontal policy's windows are built from 1 s buckets).
	Interval time.Duration
	// StatusInterval is the longest status.load may go unrefreshed. A change
	// of desired replicas, condition or applied resources is written at once.
	StatusInterval time.Duration
	// Workers bounds how many Waypoints are collected at the same time.
	Workers int
	// Log (zero: ctrl.Log named "autoscaler").
	Log logr.Logger
}

// Controller is the autoscaler: a leader-elected manager.Runnable that ticks
// over every Waypoint with horizontal autoscaling on or a vertical mode
// other than Off. It keeps one horizontal Autoscaler and one vertical
// Recommender per Waypoint in memory; a new leader starts with empty
// history, and the policy's start-safe rule keeps it from scaling down.
type Controller struct {
	client   client.Client
	source   collector.Source
	recorder events.Recorder
	opts     Options
	log      logr.Logger

	mu     sync.Mutex
	states map[types.NamespacedName]*state
}

var (
	_ manager.Runnable               = (*Controller)(nil)
	_ manager.LeaderElectionRunnable = (*Controller)(nil)
)

// New returns a Controller reading and writing through c (the manager's
// client: reads from the cache), collecting load from source.
func New(c client.Client, source collector.Source, recorder events.Recorder, o Options) *Controller {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Log.GetSink() == nil {
		o.Log = ctrl.Log.WithName("autoscaler")
	}
	return &Controller{client: c, source: source, recorder: recorder, opts: o, log: o.Log,
		states: map[types.NamespacedName]*state{}}
}

// Setup adds the autoscaler to mgr with the HTTP collector on the manager's
// cache. collect configures the collector (zero value: port 15020, /load).
func Setup(mgr ctrl.Manager, o Options, collect collector.HTTPOptions) error {
	src := collector.NewHTTPSource(mgr.GetClient(), collect)
	c := New(mgr.GetClient(), src, mgr.GetEventRecorder("waypoint-autoscaler"), o)
	if err := mgr.Add(c); err != nil {
		return fmt.Errorf("adding the waypoint autoscaler: %w", err)
	}
	return nil
}

// NeedLeaderElection: two managers scaling the same Waypoint would fight.
func (c *Controller) NeedLeaderElection() bool { return true }

// Start ticks until ctx ends. A slow tick delays the next one rather than
// piling up: collection has its own timeout well below the interval.
func (c *Controller) Start(ctx context.Context) error {
	c.log.Info("starting the waypoint autoscaler", "interval", c.opts.Interval.String(), "statusInterval", c.opts.StatusInterval.String())
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		if err := c.Tick(ctx); err != nil && ctx.Err() == nil {
			c.log.Error(err, "autoscaler tick failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick runs one round over every Waypoint: it is what Start does each
// interval, exported for tests that drive time themselves.
func (c *Controller) Tick(ctx context.Context) error {
	var list meshv1alpha1.WaypointList
	if err := c.client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing Waypoints: %w", err)
	}
	work := c.sync(ctx, list.Items)

	sem := make(chan struct{}, c.opts.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, w := range work {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.step(ctx, w.wp, w.st); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

type item struct {
	wp *meshv1alpha1.Waypoint
	st *state
}

// sync matches in-memory state to the Waypoints: new ones get a state,
// deleted ones lose theirs (and their metrics), and ones whose autoscaling
// was switched off have the autoscaler's status fields released.
func (c *Controller) sync(ctx context.Context, wps []meshv1alpha1.Waypoint) []item {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[types.NamespacedName]bool, len(wps))
	var work []item
	for i := range wps {
		wp := &wps[i]
		key := client.ObjectKeyFromObject(wp)
		if !wp.DeletionTimestamp.IsZero() {
			continue
		}
		if !managed(wp) {
			if _, had := c.states[key]; had || ownsConditions(wp) {
				c.release(ctx, wp)
				c.forget(key)
			}
			continue
		}
		seen[key] = true
		st, ok := c.states[key]
		if !ok {
			st = newState(wp)
			c.states[key] = st
		}
		work = append(work, item{wp: wp, st: st})
	}
	for key := range c.states {
		if !seen[key] {
			c.forget(key)
		}
	}
	return work
}

// forget drops everything kept for a Waypoint; c.mu is held.
func (c *Controller) forget(key types.NamespacedName) {
	delete(c.states, key)
	forgetMetrics(key.Namespace, key.Name)
	if f, ok := c.source.(collector.Forgetter); ok {
		f.Forget(key)
	}
}

// ownsConditions reports whether a Waypoint still shows autoscaler
// conditions, e.g. autoscaling was switched off while no manager ran.
func ownsConditions(wp *meshv1alpha1.Waypoint) bool {
	for _, c := range wp.Status.Conditions {
		if c.Type == meshv1alpha1.ConditionScalingActive || c.Type == meshv1alpha1.ConditionScalingLimited {
			return true
		}
	}
	return false
}

// release applies an empty status as the autoscaler's field manager, which
// removes every field it owned: desiredReplicas goes back to the reconciler
// (spec.replicas), the conditions and load disappear.
func (c *Controller) release(ctx context.Context, wp *meshv1alpha1.Waypoint) {
	var empty ownedStatus
	if err := c.write(ctx, wp, &empty); err != nil {
		c.log.Error(err, "releasing autoscaler status", "waypoint", client.ObjectKeyFromObject(wp).String())
	}
}

func (c *Controller) write(ctx context.Context, wp *meshv1alpha1.Waypoint, o *ownedStatus) error {
	if err := c.client.Status().Apply(ctx, o.apply(wp), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing autoscaler status of Waypoint %s/%s: %w", wp.Namespace, wp.Name, err)
	}
	return nil
}
