package ztunnel

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wayfabric/wayfabric/proxy/authz"
)

// Metrics are the node proxy's Prometheus metrics (docs/ztunnel.md).
// Connection metrics are labelled by direction (outbound: the pod is the
// client; inbound: the pod is the server), the local pod's namespace and
// workload (its app.kubernetes.io/name or app label, else its service
// account: bounded cardinality, unlike pod names).
type Metrics struct {
	opened, closed *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	errors         *prometheus.CounterVec
	authz          *prometheus.CounterVec
	captured       prometheus.Gauge
	captureSetup   prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	conn := []string{"direction", "route", "namespace", "workload"}
	m := &Metrics{
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wayfabric_ztunnel_connections_opened_total",
			Help: "Connections opened, by direction, route (direct, waypoint, passthrough, hbone, plaintext) and local workload."}, conn),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wayfabric_ztunnel_connections_closed_total",
			Help: "Connections closed (after bytes flowed), by direction, route and local workload."}, conn),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wayfabric_ztunnel_bytes_total",
			Help: "Bytes carried, by direction, flow (sent: from the local pod; received: to it) and local workload."},
			[]string{"direction", "flow", "namespace", "workload"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wayfabric_ztunnel_connection_errors_total",
			Help: "Connections refused or failed, by direction and reason."}, []string{"direction", "reason", "namespace", "workload"}),
		authz: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wayfabric_ztunnel_authz_decisions_total",
			Help: "Inbound connections decided by AuthorizationPolicies, by decision, policy and reason."},
			[]string{"decision", "policy", "reason"}),
		captured: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wayfabric_ztunnel_captured_pods",
			Help: "Pods whose traffic this ztunnel captures now."}),
		captureSetup: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wayfabric_ztunnel_capture_setup_seconds",
			Help:    "Time to capture a pod: rules, certificate, listeners.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
	}
	if reg != nil {
		reg.MustRegister(m.opened, m.closed, m.bytes, m.errors, m.authz, m.captured, m.captureSetup)
	}
	return m
}

func (m *Metrics) authzDecision(d *authz.Decision) {
	decision := "denied"
	if d.Allowed {
		decision = "allowed"
	}
	var policy string
	if d.Policy != nil {
		policy = d.Policy.Key
	}
	m.authz.WithLabelValues(decision, policy, d.Reason.String()).Inc()
}
