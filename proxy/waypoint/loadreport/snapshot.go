package loadreport

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/procfs"

	wire "github.com/wayfabric/wayfabric/api/loadreport"
)

// Snapshot computes the report over the last complete seconds.
func (r *Recorder) Snapshot() wire.Report {
	now := r.clock()
	r.account(now)
	cur := now / nanosPerSec
	rep := wire.Report{Version: wire.ReportVersion, Timestamp: time.Now().UTC()}
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
	rep.Latency = wire.Latency{P50: q[0], P90: q[1], P99: q[2], Count: req10}
	if req10 > 0 {
		rep.Latency.Mean = float64(latSum) / float64(req10) / 1e9
	}
	rep.Process = readProcess()
	return rep
}

func readProcess() wire.Process {
	p, err := procfs.Self()
	if err != nil {
		return wire.Process{}
	}
	st, err := p.Stat()
	if err != nil {
		return wire.Process{}
	}
	return wire.Process{CPUSecondsTotal: st.CPUTime(), ResidentMemoryBytes: int64(st.ResidentMemory())}
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
