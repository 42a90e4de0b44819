package horizontal

import (
	"math"
	"time"
)

// timeWindow is a ring of fixed-width time buckets. Each bucket keeps the
// sum, count and maximum of the values recorded in it. All storage is
// allocated up front, so recording and querying never allocate.
//
// A bucket with no samples is a gap, not a zero: averages skip it, because
// a missed collection must never read as "no load".
type timeWindow struct {
	sums   []float64
	counts []uint32
	maxes  []float64
	// index is the absolute bucket number (unix time / bucketWidth) a slot
	// currently holds; a slot whose index is not the expected one is stale.
	index []int64
}

func newTimeWindow(span time.Duration) *timeWindow {
	n := bucketsIn(span)
	w := &timeWindow{
		sums:   make([]float64, n),
		counts: make([]uint32, n),
		maxes:  make([]float64, n),
		index:  make([]int64, n),
	}
	for i := range w.index {
		w.index[i] = math.MinInt64
	}
	return w
}

// bucketsIn is the number of buckets that cover span (at least one).
func bucketsIn(span time.Duration) int {
	return max(1, int((span+bucketWidth-1)/bucketWidth))
}

func bucketOf(t time.Time) int64 {
	return t.UnixNano() / int64(bucketWidth)
}

func (w *timeWindow) slot(bucket int64) int {
	n := int64(len(w.index))
	return int(((bucket % n) + n) % n)
}

// record adds v to the bucket of time t.
func (w *timeWindow) record(t time.Time, v float64) {
	b := bucketOf(t)
	s := w.slot(b)
	if w.index[s] != b {
		w.index[s], w.sums[s], w.counts[s], w.maxes[s] = b, 0, 0, v
	}
	w.sums[s] += v
	w.counts[s]++
	w.maxes[s] = max(w.maxes[s], v)
}

// each calls fn with the mean and max of every non-empty bucket among the
// last `buckets` buckets ending at now, newest first.
func (w *timeWindow) each(now time.Time, buckets int, fn func(mean, peak float64) bool) {
	buckets = min(buckets, len(w.index))
	last := bucketOf(now)
	for b := last; b > last-int64(buckets); b-- {
		s := w.slot(b)
		if w.index[s] != b || w.counts[s] == 0 {
			continue
		}
		if !fn(w.sums[s]/float64(w.counts[s]), w.maxes[s]) {
			return
		}
	}
}

// average is the mean of the bucket means over span ending at now, and how
// many buckets had data.
func (w *timeWindow) average(now time.Time, span time.Duration) (float64, int) {
	var sum float64
	var n int
	w.each(now, bucketsIn(span), func(mean, _ float64) bool {
		sum += mean
		n++
		return true
	})
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// peak is the largest value recorded over span ending at now.
func (w *timeWindow) peak(now time.Time, span time.Duration) (float64, bool) {
	best, found := 0.0, false
	w.each(now, bucketsIn(span), func(_, p float64) bool {
		if !found || p > best {
			best, found = p, true
		}
		return true
	})
	return best, found
}

// sustained is the lowest bucket mean over the last span ending at now; ok
// is false unless every bucket in the span has data, so a gap never
// confirms a burst.
func (w *timeWindow) sustained(now time.Time, span time.Duration) (float64, bool) {
	want := bucketsIn(span)
	low, n := math.Inf(1), 0
	w.each(now, want, func(mean, _ float64) bool {
		low = min(low, mean)
		n++
		return true
	})
	if n < want {
		return 0, false
	}
	return low, true
}
