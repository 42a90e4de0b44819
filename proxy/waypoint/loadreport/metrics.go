package loadreport

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the waypoint's Prometheus series, on their own registry.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	series   sync.Map // seriesKey → *series
}

type seriesKey struct{ route, service string }

// series caches the children of one (route, service) so the hot path does
// not hash label values on every request.
type series struct {
	duration prometheus.Observer
	codes    [6]prometheus.Counter // index: status/100, 0 = other
}

var codeClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// NewMetrics registers request metrics, the in-flight gauge of rec, and the
// Go and process collectors.
func NewMetrics(rec *Recorder) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wayfabric_waypoint_requests_total",
			Help: "HTTP requests handled by the waypoint, by HTTPRoute, destination service and status class.",
		}, []string{"route", "service", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wayfabric_waypoint_request_duration_seconds",
			Help:    "Time from request received to response finished, by HTTPRoute and destination service.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "service"}),
	}
	m.Registry.MustRegister(m.requests, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wayfabric_waypoint_requests_in_flight",
			Help: "HTTP requests currently in progress.",
		}, func() float64 { return float64(rec.InFlight()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *Metrics) seriesFor(route, service string) *series {
	k := seriesKey{route, service}
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	s := &series{duration: m.duration.WithLabelValues(route, service)}
	for i, c := range codeClasses {
		s.codes[i] = m.requests.WithLabelValues(route, service, c)
	}
	actual, _ := m.series.LoadOrStore(k, s)
	return actual.(*series)
}

// Observe records one finished request.
func (m *Metrics) Observe(route, service string, status int, d time.Duration) {
	s := m.seriesFor(route, service)
	s.duration.Observe(d.Seconds())
	c := status / 100
	if c < 1 || c > 5 {
		c = 0
	}
	s.codes[c].Inc()
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
