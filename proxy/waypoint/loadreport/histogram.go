package loadreport

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram with log-linear buckets: 8 sub-buckets per power of two
// of microseconds (≤ 9% relative error), from 1 µs to ~19 h. Lock-free writes.
const (
	subBits    = 3
	subBuckets = 1 << subBits
	octaves    = 37
	numBuckets = octaves * subBuckets
)

type histogram [numBuckets]atomic.Uint64

func bucketOf(d time.Duration) int {
	us := uint64(d / time.Microsecond)
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 1 // us in [2^exp, 2^(exp+1))
	sub := (us >> (exp - subBits)) & (subBuckets - 1)
	i := (exp-subBits+1)*subBuckets + int(sub)
	if i >= numBuckets {
		return numBuckets - 1
	}
	return i
}

// upperBound is the largest latency (seconds) that falls into bucket i.
func upperBound(i int) float64 {
	if i < subBuckets {
		return float64(i+1) / 1e6
	}
	exp := i/subBuckets + subBits - 1
	sub := i % subBuckets
	lo := math.Ldexp(1, exp) + float64(sub)*math.Ldexp(1, exp-subBits)
	return (lo + math.Ldexp(1, exp-subBits)) / 1e6
}

// quantiles returns the bucket upper bounds at each q of counts (merged).
func quantiles(counts *[numBuckets]uint64, total uint64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	if total == 0 {
		return out
	}
	for k, q := range qs {
		rank := uint64(math.Ceil(q * float64(total)))
		if rank == 0 {
			rank = 1
		}
		var seen uint64
		for i := range counts {
			seen += counts[i]
			if seen >= rank {
				out[k] = upperBound(i)
				break
			}
		}
	}
	return out
}
