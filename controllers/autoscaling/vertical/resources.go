package vertical

import (
	"fmt"
	"math"
)

// Resources is a per-replica CPU and memory amount.
type Resources struct {
	MilliCPU    int64
	MemoryBytes int64
}

func (r Resources) String() string {
	return fmt.Sprintf("cpu %dm, memory %s", r.MilliCPU, formatBytes(r.MemoryBytes))
}

// IsZero reports whether neither resource is set.
func (r Resources) IsZero() bool { return r.MilliCPU == 0 && r.MemoryBytes == 0 }

const mebibyte = 1 << 20

// fromUsage rounds a recommendation up: whole millicores and whole MiB, so
// specs stay readable and rounding never under-provisions.
func fromUsage(cores, bytes float64) Resources {
	return Resources{
		MilliCPU:    saturate(math.Ceil(cores * 1000)),
		MemoryBytes: saturate(math.Ceil(bytes/mebibyte) * mebibyte),
	}
}

func saturate(v float64) int64 {
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(max(v, 0))
}

// clamp bounds r by min and max; a zero field in max means "no maximum".
func (r Resources) clamp(minimum, maximum Resources) Resources {
	c := func(v, lo, hi int64) int64 {
		v = max(v, lo)
		if hi > 0 {
			v = min(v, hi)
		}
		return v
	}
	return Resources{
		MilliCPU:    c(r.MilliCPU, minimum.MilliCPU, maximum.MilliCPU),
		MemoryBytes: c(r.MemoryBytes, minimum.MemoryBytes, maximum.MemoryBytes),
	}
}

func formatBytes(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGi", b>>30)
	case b >= mebibyte && b%mebibyte == 0:
		return fmt.Sprintf("%dMi", b>>20)
	default:
		return fmt.Sprintf("%d", b)
	}
}
