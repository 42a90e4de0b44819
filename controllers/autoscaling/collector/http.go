package collector

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/api/loadreport"
	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// Defaults of HTTPSource.
const (
	DefaultPort        = mesh.PortStats
	DefaultPath        = loadreport.Path
	DefaultTimeout     = 500 * time.Millisecond
	DefaultConcurrency = 16
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// HTTPOptions configure an HTTPSource; zero values get the defaults.
type HTTPOptions struct {
	// Port and Path of the load report on each pod.
	Port int
	Path string
	// Timeout bounds one replica's answer. It must stay well below the
	// collection interval: a slow replica is reported missing, not waited for.
	Timeout time.Duration
	// Concurrency bounds the requests in flight for one Waypoint.
	Concurrency int
	// Client overrides the HTTP client (its Timeout is not used; Timeout is).
	Client *http.Client
}

// HTTPSource lists a Waypoint's ready pods from the controller-runtime cache
// and GETs each pod's load report.
type HTTPSource struct {
	reader client.Reader
	opts   HTTPOptions
	cpu    cpuRates
}

var _ Source = (*HTTPSource)(nil)
var _ Forgetter = (*HTTPSource)(nil)

// NewHTTPSource returns a Source that scrapes pods listed through reader
// (the manager's cached client).
func NewHTTPSource(reader client.Reader, o HTTPOptions) *HTTPSource {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			// Pod IPs are never reached through an HTTP proxy.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: o.Timeout}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
		}}
	}
	return &HTTPSource{reader: reader, opts: o}
}

// Forget drops the CPU counters kept for a deleted Waypoint.
func (s *HTTPSource) Forget(wp types.NamespacedName) { s.cpu.forget(wp) }

// result is one pod's answer.
type result struct {
	pod    *corev1.Pod
	report loadreport.Report
	at     time.Time
	err    error
}

// Collect scrapes every ready replica of wp. It fails only when the pods
// cannot be listed; unreachable replicas are counted in Missing.
func (s *HTTPSource) Collect(ctx context.Context, wp types.NamespacedName) (Snapshot, error) {
	start := time.Now()
	var pods corev1.PodList
	if err := s.reader.List(ctx, &pods, client.InNamespace(wp.Namespace), client.MatchingLabels{meshv1alpha1.LabelWaypoint: wp.Name}); err != nil {
		return Snapshot{}, fmt.Errorf("listing pods of Waypoint %s: %w", wp, err)
	}
	var ready []*corev1.Pod
	for i := range pods.Items {
		if PodReady(&pods.Items[i]) {
			ready = append(ready, &pods.Items[i])
		}
	}
	results := s.fetchAll(ctx, ready)

	snap := Snapshot{At: start}
	marks := make(map[types.UID]cpuMark, len(results))
	for _, r := range results {
		if r.err == nil {
			marks[r.pod.UID] = cpuMark{seconds: r.report.Process.CPUSecondsTotal, at: r.at}
		}
	}
	rates := s.cpu.observe(wp, marks)
	for _, r := range results {
		switch {
		case r.err != nil:
			snap.Missing++
			if snap.Failures == nil {
				snap.Failures = map[string]string{}
			}
			snap.Failures[r.pod.Name] = r.err.Error()
		case r.report.Draining:
			snap.Draining++
			continue
		default:
			cores, ok := rates[r.pod.UID]
			snap.Replicas = append(snap.Replicas, fromReport(r.pod.Name, &r.report, cores, ok))
		}
		snap.Ready++
	}
	snap.Duration = time.Since(start)
	return snap, nil
}

// fetchAll asks every pod at once, at most Concurrency at a time.
func (s *HTTPSource) fetchAll(ctx context.Context, pods []*corev1.Pod) []result {
	results := make([]result, len(pods))
	sem := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rep, at, err := s.fetch(ctx, p)
			results[i] = result{pod: p, report: rep, at: at, err: err}
		}()
	}
	wg.Wait()
	return results
}

func (s *HTTPSource) url(p *corev1.Pod) string {
	return "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(s.opts.Port)) + s.opts.Path
}

func fromReport(pod string, r *loadreport.Report, cores float64, hasCPU bool) ReplicaLoad {
	return ReplicaLoad{
		Pod:                  pod,
		Concurrency:          r.Concurrency.Average1s,
		RequestsPerSecond:    r.Requests.PerSecond1s,
		RequestsPerSecond10s: r.Requests.PerSecond10s,
		P50:                  seconds(r.Latency.P50),
		P99:                  seconds(r.Latency.P99),
		CPUCores:             cores,
		HasCPU:               hasCPU,
		MemoryBytes:          r.Process.ResidentMemoryBytes,
	}
}

func seconds(s float64) time.Duration {
	if !(s > 0) || s > 1e6 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
