package waypoint

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Where a container finds its own memory limit (cgroup v2, then v1).
var cgroupMemoryLimitFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// memoryLimitFollower keeps the Go runtime's soft memory limit at a share of
// the container's memory limit, so the garbage collector works harder before
// the OOM killer acts. It re-reads the cgroup because an in-place resize
// (pods/resize) changes the limit of a running container, which the
// GOMEMLIMIT environment variable set at start cannot follow.
type memoryLimitFollower struct {
	files   []string
	percent int64
	set     func(int64) int64 // debug.SetMemoryLimit
	last    int64
}

// step reads the limit once and applies percent of it when it changed. It
// reports the new soft limit, or 0 when nothing changed or no limit is set
// (an unlimited container keeps whatever GOMEMLIMIT says).
func (f *memoryLimitFollower) step() int64 {
	limit, ok := readMemoryLimit(f.files)
	if !ok || limit == f.last {
		return 0
	}
	f.last = limit
	soft := limit / 100 * f.percent
	f.set(soft)
	return soft
}

// followMemoryLimit runs the follower every interval until ctx ends.
func followMemoryLimit(ctx context.Context, percent int, every time.Duration, log logr.Logger) {
	f := &memoryLimitFollower{files: cgroupMemoryLimitFiles, percent: int64(percent), set: debug.SetMemoryLimit}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if soft := f.step(); soft > 0 {
			log.Info("memory budget follows the container's memory limit", "limitBytes", f.last, "goMemLimitBytes", soft)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readMemoryLimit returns the first limit found in files; ok is false when
// none is readable or the container has no limit ("max", or cgroup v1's
// page-rounded maximum).
func readMemoryLimit(files []string) (limit int64, ok bool) {
	for _, name := range files {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" fails to parse; v1 reports no limit as about 2^63.
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0, false
		}
		return v, true
	}
	return 0, false
}
