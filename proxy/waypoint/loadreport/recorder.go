// Package loadreport measures a waypoint's load for the autoscaler: request
// rate, in-flight concurrency and latency over 1 s and 10 s windows, with
// lock-free per-request accounting so that the hot path costs a few atomics.
package loadreport

import (
	"sync"
	"sync/atomic"
	"time"
)

// slots holds one more second than the longest window so the current,
// still-filling second never overwrites the window being read.
const (
	slots        = 12
	longWindow   = 10
	nanosPerSec  = int64(time.Second)
	stateUnknown = -1
)

type slot struct {
	sec      atomic.Int64
	requests atomic.Int64
	// area is in-flight requests integrated over time (request·ns); divided
	// by the window it is the time-averaged concurrency.
	area   atomic.Int64
	hist   histogram
	latSum atomic.Int64 // ns
}

// Recorder accumulates load. The zero value is not usable; call New.
type Recorder struct {
	clock    func() int64 // monotonic ns
	inflight atomic.Int64
	total    atomic.Int64
	last     atomic.Int64 // ns of the last concurrency accounting
	slots    [slots]slot
	rotateMu sync.Mutex
}

// New returns a Recorder on the monotonic clock.
func New() *Recorder {
	base := time.Now()
	return NewWithClock(func() int64 { return int64(time.Since(base)) })
}

// NewWithClock is for tests: clock returns monotonic nanoseconds.
func NewWithClock(clock func() int64) *Recorder {
	r := &Recorder{clock: clock}
	for i := range r.slots {
		r.slots[i].sec.Store(stateUnknown)
	}
	r.last.Store(clock())
	return r
}

func (r *Recorder) slotFor(sec int64) *slot {
	s := &r.slots[sec%slots]
	if s.sec.Load() == sec {
		return s
	}
	r.rotateMu.Lock() // once per slot per second
	if s.sec.Load() != sec {
		s.requests.Store(0)
		s.area.Store(0)
		s.latSum.Store(0)
		for i := range s.hist {
			s.hist[i].Store(0)
		}
		s.sec.Store(sec)
	}
	r.rotateMu.Unlock()
	return s
}

// account adds the concurrency area since the last event. Swap makes the
// intervals of concurrent callers disjoint, so time is never counted twice.
func (r *Recorder) account(now int64) {
	prev := r.last.Swap(now)
	if dt := now - prev; dt > 0 {
		if n := r.inflight.Load(); n > 0 {
			r.slotFor(now / nanosPerSec).area.Add(n * dt)
		}
	}
}

// Begin marks a request start and returns its start time for End.
func (r *Recorder) Begin() int64 {
	now := r.clock()
	r.account(now)
	r.inflight.Add(1)
	return now
}

// End marks the request started at start as finished and returns its duration.
func (r *Recorder) End(start int64) time.Duration {
	now := r.clock()
	r.account(now)
	r.inflight.Add(-1)
	r.total.Add(1)
	s := r.slotFor(now / nanosPerSec)
	s.requests.Add(1)
	lat := now - start
	s.latSum.Add(lat)
	s.hist[bucketOf(time.Duration(lat))].Add(1)
	return time.Duration(lat)
}

// InFlight is the current number of requests in progress.
func (r *Recorder) InFlight() int64 { return r.inflight.Load() }
