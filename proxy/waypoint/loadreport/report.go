package loadreport

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/procfs"
)

// ReportVersion is bumped on incompatible changes of the JSON format.
const ReportVersion = 1

// Report is the load report served as JSON (format: docs/load-report.md).
type Report struct {
	Version     int         `json:"version"`
	Timestamp   time.Time   `json:"timestamp"`
	Draining    bool        `json:"draining"`
	Requests    Requests    `json:"requests"`
	Concurrency Concurrency `json:"concurrency"`
	Latency     Latency     `json:"latencySeconds"`
	Process     Process     `json:"process"`
}

// Requests are completed requests.
type Requests struct {
	PerSecond1s  float64 `json:"perSecond1s"`
	PerSecond10s float64 `json:"perSecond10s"`
	Total        int64   `json:"total"`
}

// Concurrency is requests in flight.
type Concurrency struct {
	Current    int64   `json:"current"`
	Average1s  float64 `json:"average1s"`
	Average10s float64 `json:"average10s"`
}

// Latency quantiles over the last 10 complete seconds.
type Latency struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Mean  float64 `json:"mean"`
	Count int64   `json:"count"`
}

// Process resource usage.
type Process struct {
	CPUSecondsTotal     float64 `json:"cpuSecondsTotal"`
	ResidentMemoryBytes int64   `json:"residentMemoryBytes"`
}

// Snapshot computes the report over the last complete seconds.
func (r *Recorder) Snapshot() Report {
	now := r.clock()
	r.account(now)
	cur := now / nanosPerSec
	rep := Report{Version: ReportVersion, Timestamp: time.Now().UTC()}
	rep.Concurrency.Current = r.inflight.Load()
	rep.Requests.Total = r.total.Load()

	var counts [numBuckets]uint64
	var req10, area10, latSum int64
	for back := int64(1); back <= longWindow; back++ {
		sec := cur - back
		if sec < 0 {
			break
		}
		s := &r.slots[sec%slots]
		if s.sec.Load() != sec {
			continue // no traffic that second
		}
		n, a := s.requests.Load(), s.area.Load()
		if back == 1 {
			rep.Requests.PerSecond1s = float64(n)
			rep.Concurrency.Average1s = float64(a) / float64(nanosPerSec)
		}
		req10 += n
		area10 += a
		latSum += s.latSum.Load()
		for i := range counts {
			counts[i] += s.hist[i].Load()
		}
	}
	rep.Requests.PerSecond10s = float64(req10) / longWindow
	rep.Concurrency.Average10s = float64(area10) / float64(longWindow*nanosPerSec)
	q := quantiles(&counts, uint64(req10), 0.5, 0.9, 0.99)
	rep.Latency = Latency{P50: q[0], P90: q[1], P99: q[2], Count: req10}
	if req10 > 0 {
		rep.Latency.Mean = float64(latSum) / float64(req10) / 1e9
	}
	rep.Process = readProcess()
	return rep
}

func readProcess() Process {
	p, err := procfs.Self()
	if err != nil {
		return Process{}
	}
	st, err := p.Stat()
	if err != nil {
		return Process{}
	}
	return Process{CPUSecondsTotal: st.CPUTime(), ResidentMemoryBytes: int64(st.ResidentMemory())}
}

// Handler serves the report as JSON. draining may be nil.
func (r *Recorder) Handler(draining func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rep := r.Snapshot()
		if draining != nil {
			rep.Draining = draining()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(rep)
	})
}
