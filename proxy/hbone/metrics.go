package hbone

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HBONE Prometheus metrics; one set is shared by a
// process's clients and servers (label "side": client or server).
type Metrics struct {
	handshakeFailures *prometheus.CounterVec
	streams           *prometheus.CounterVec
	activeStreams     *prometheus.GaugeVec
	connections       *prometheus.GaugeVec
	forwardedDrops    prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wayfabric_hbone_handshake_failures_total",
			Help: "mTLS handshakes refused, by side and reason (wrong_identity, unknown_authority, expired, ...).",
		}, []string{"side", "reason"}),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wayfabric_hbone_streams_total",
			Help: "CONNECT streams by side and outcome (HTTP status, or reset/refused).",
		}, []string{"side", "result"}),
		activeStreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wayfabric_hbone_active_streams",
			Help: "Open CONNECT streams.",
		}, []string{"side"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wayfabric_hbone_connections",
			Help: "Open HBONE connections.",
		}, []string{"side"}),
		forwardedDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wayfabric_hbone_forwarded_untrusted_total",
			Help: "CONNECTs whose Forwarded header came from a peer not trusted to set it and was dropped (server side).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.handshakeFailures, m.streams, m.activeStreams, m.connections, m.forwardedDrops)
	}
	return m
}

func side(isClient bool) string {
	if isClient {
		return "client"
	}
	return "server"
}

// The helpers accept a nil *Metrics so call sites need no checks.

func (m *Metrics) handshakeFailed(isClient bool, reason string) {
	if m != nil {
		m.handshakeFailures.WithLabelValues(side(isClient), reason).Inc()
	}
}

func (m *Metrics) streamResult(isClient bool, status int, other string) {
	if m == nil {
		return
	}
	if other == "" {
		other = strconv.Itoa(status)
	}
	m.streams.WithLabelValues(side(isClient), other).Inc()
}

func (m *Metrics) streamDelta(isClient bool, d float64) {
	if m != nil {
		m.activeStreams.WithLabelValues(side(isClient)).Add(d)
	}
}

func (m *Metrics) connDelta(isClient bool, d float64) {
	if m != nil {
		m.connections.WithLabelValues(side(isClient)).Add(d)
	}
}

func (m *Metrics) forwardedDropped() {
	if m != nil {
		m.forwardedDrops.Inc()
	}
}
