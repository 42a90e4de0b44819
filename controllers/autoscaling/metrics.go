package autoscaling

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics of the autoscaler, on controller-runtime's registry (served by the
// manager's metrics endpoint). Labels are namespace and waypoint; series of
// a deleted Waypoint are removed.
var (
	decisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wayfabric_autoscaler_decisions_total",
		Help: "Horizontal autoscaling decisions, by direction (up, down, none) and the rule that made them.",
	}, []string{"namespace", "waypoint", "direction", "reason"})
	desiredReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wayfabric_autoscaler_desired_replicas",
		Help: "Replicas the horizontal autoscaler asks for.",
	}, []string{"namespace", "waypoint"})
	observedRPS = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wayfabric_autoscaler_observed_requests_per_second",
		Help: "Requests per second across the reporting replicas (last second).",
	}, []string{"namespace", "waypoint"})
	observedConcurrency = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wayfabric_autoscaler_observed_concurrency",
		Help: "Requests in flight across the reporting replicas (last-second average).",
	}, []string{"namespace", "waypoint"})
	observedP99 = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wayfabric_autoscaler_observed_p99_latency_seconds",
		Help: "Worst p99 request latency of the reporting replicas (last 10 s).",
	}, []string{"namespace", "waypoint"})
	reportingReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wayfabric_autoscaler_reporting_replicas",
		Help: "Ready replicas whose load report was read in the last collection.",
	}, []string{"namespace", "waypoint"})
	collectionSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wayfabric_autoscaler_collection_duration_seconds",
		Help: "Time to collect the load reports of one Waypoint.",
		// The collection timeout is 0.5 s by default; the tail above it means trouble.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"namespace", "waypoint"})
	collectionErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wayfabric_autoscaler_collection_errors_total",
		Help: "Failed collections: kind=list (pods could not be listed) or unreachable (one replica did not answer).",
	}, []string{"namespace", "waypoint", "kind"})
)

func init() {
	metrics.Registry.MustRegister(decisionsTotal, desiredReplicas, observedRPS, observedConcurrency,
		observedP99, reportingReplicas, collectionSeconds, collectionErrors)
}

// forgetMetrics removes every series of a deleted Waypoint.
func forgetMetrics(namespace, name string) {
	l := prometheus.Labels{"namespace": namespace, "waypoint": name}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		decisionsTotal, desiredReplicas, observedRPS, observedConcurrency, observedP99,
		reportingReplicas, collectionSeconds, collectionErrors,
	} {
		v.DeletePartialMatch(l)
	}
}

func direction(current, desired int32) string {
	switch {
	case desired > current:
		return "up"
	case desired < current:
		return "down"
	}
	return "none"
}
