package horizontal

import "time"

// Sample is one ready replica's load report.
type Sample struct {
	Concurrency       float64
	RequestsPerSecond float64
}

// Input is everything the policy needs for one tick.
type Input struct {
	Now time.Time
	// Samples holds one entry per ready replica that answered this tick.
	// A replica that did not answer is simply absent.
	Samples []Sample
	// ReadyReplicas is the number of ready replicas (serving traffic).
	ReadyReplicas int32
	// CurrentReplicas is the replica count currently asked of the
	// Deployment (ready or not).
	CurrentReplicas int32
}

// Reason is the machine-readable rule that produced a Decision; it is
// meant for condition reasons, event reasons and metric labels.
type Reason string

const (
	// ReasonNoMetrics: no replica reported in the panic window; keep the
	// current count.
	ReasonNoMetrics Reason = "NoMetrics"
	// ReasonScaleUp / ReasonScaleDown: the stable window asks for a change.
	ReasonScaleUp   Reason = "ScaleUp"
	ReasonScaleDown Reason = "ScaleDown"
	// ReasonWithinTolerance: the stable load is within the tolerance of
	// the current capacity; keep the count.
	ReasonWithinTolerance Reason = "WithinTolerance"
	// ReasonPanic: the panic window saw a burst; scale up, never down.
	ReasonPanic Reason = "Panic"
	// ReasonStartSafe: less than one stable window of history (e.g. after a
	// manager restart); the count may grow but not shrink.
	ReasonStartSafe Reason = "StartSafe"
	// ReasonStabilizing: a scale-down is held back to the highest
	// recommendation within the scale-down stabilization window.
	ReasonStabilizing Reason = "Stabilizing"
)

// LimitReason names the bound that cut the recommendation.
type LimitReason string

const (
	LimitNone          LimitReason = ""
	LimitMinReplicas   LimitReason = "MinReplicas"
	LimitMaxReplicas   LimitReason = "MaxReplicas"
	LimitScaleUpRate   LimitReason = "ScaleUpRate"
	LimitScaleDownRate LimitReason = "ScaleDownRate"
)

// Decision is the policy's answer for one tick, with everything needed to
// explain it in an event, a condition and metrics.
type Decision struct {
	DesiredReplicas int32
	Reason          Reason
	// Message names the inputs and the rule, for people.
	Message string

	// Limited is true when min/max or a rate policy cut the recommendation.
	Limited     bool
	LimitReason LimitReason
	// Recommended is the replica count before rate limits and min/max.
	Recommended int32

	Panic  bool
	Metric Metric
	// StableLoad and PanicLoad are the total load (all replicas) averaged
	// over the stable and panic windows, in Metric units.
	StableLoad float64
	PanicLoad  float64
	// StableReplicas and PanicReplicas are what each window alone asks for.
	StableReplicas int32
	PanicReplicas  int32
	// TotalLoad is this tick's estimate of the total load.
	TotalLoad float64

	// ReportingReplicas answered this tick; MissingReplicas are ready
	// replicas that did not (counted at least at target, so they never
	// cause a scale-down); InvalidSamples were negative, NaN or infinite
	// values that were ignored.
	ReportingReplicas int32
	MissingReplicas   int32
	InvalidSamples    int32
}
