package autoscaling

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/horizontal"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/vertical"
)

// state is what the autoscaler remembers of one Waypoint between ticks.
// Only the goroutine stepping the Waypoint touches it.
type state struct {
	hz *horizontal.Autoscaler // nil while horizontal autoscaling is off
	// desired is the count last asked for; decided says it is set. Until
	// then the Deployment's replicas are the current count (start safe).
	desired int32
	decided bool

	rec    *vertical.Recommender // nil while the vertical mode is Off
	recCfg vertical.RecommenderConfig
	// applied and lastApplied mirror status.recommendation; they start from
	// status so a new leader keeps honouring minInterval.
	applied     corev1.ResourceList
	lastApplied *metav1.Time
	resize      *resizeRun // in-place resize in progress
	// resizeBackoff: no catch-up resize before this time (after a failure).
	resizeBackoff time.Time

	// load and recommendation are the last values written, kept when a
	// collection fails so the apply does not drop them.
	load           *meshv1alpha1.WaypointLoad
	recommendation *meshv1alpha1.VerticalRecommendation
	// lastUpdate is the reason of the last vertical update decision, to log
	// only its changes.
	lastUpdate vertical.UpdateReason
	// lastConfigErr and lastCollectErr: report each distinct failure once.
	lastConfigErr, lastCollectErr string

	lastKey   string
	lastWrite time.Time
}

func newState(wp *meshv1alpha1.Waypoint) *state {
	st := &state{}
	if r := wp.Status.Recommendation; r != nil {
		st.applied = r.Applied.DeepCopy()
		st.lastApplied = r.LastApplied.DeepCopy()
		st.recommendation = r.DeepCopy()
	}
	if wp.Status.Load != nil {
		st.load = wp.Status.Load.DeepCopy()
	}
	return st
}

// configure brings the policies in line with the spec: created when turned
// on, reconfigured on change (the horizontal policy keeps its history when
// its windows keep their length), dropped when turned off.
func (st *state) configure(wp *meshv1alpha1.Waypoint) error {
	var errs []error
	if !wp.HorizontalEnabled() {
		st.hz, st.decided = nil, false
	} else if err := st.configureHorizontal(wp.Spec.Autoscaling.Horizontal); err != nil {
		errs = append(errs, err)
	}
	if verticalMode(wp) == vertical.ModeOff {
		st.rec, st.resize = nil, nil
	} else if err := st.configureVertical(wp.Spec.Autoscaling.Vertical); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (st *state) configureHorizontal(h *meshv1alpha1.HorizontalAutoscaling) error {
	cfg, err := HorizontalConfig(h)
	if err != nil {
		return fmt.Errorf("spec.autoscaling.horizontal: %w", err)
	}
	if st.hz == nil {
		st.hz, err = horizontal.New(cfg)
		return err
	}
	if !reflect.DeepEqual(st.hz.Config(), cfg) {
		return st.hz.Reconfigure(cfg)
	}
	return nil
}

// configureVertical recreates the recommender when min/max allowed change:
// the vertical package clamps inside Recommendation and has no Reconfigure,
// so the usage history starts over (a rare, deliberate spec edit).
func (st *state) configureVertical(v *meshv1alpha1.VerticalAutoscaling) error {
	cfg, err := RecommenderConfig(v)
	if err != nil {
		return fmt.Errorf("spec.autoscaling.vertical: %w", err)
	}
	if st.rec != nil && reflect.DeepEqual(st.recCfg, cfg) {
		return nil
	}
	rec, err := vertical.NewRecommender(cfg)
	if err != nil {
		return err
	}
	st.rec, st.recCfg = rec, cfg
	return nil
}
