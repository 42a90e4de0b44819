package waypoint

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name  string
		files []string
		want  int64
		ok    bool
	}{
		{"cgroup v2 limit", []string{write("v2", "536870912\n")}, 512 << 20, true},
		{"cgroup v2 unlimited", []string{write("v2max", "max\n")}, 0, false},
		{"cgroup v1 unlimited", []string{write("v1max", "9223372036854771712\n")}, 0, false},
		{"falls through a missing file", []string{missing, write("v1", "268435456")}, 256 << 20, true},
		{"no file", []string{missing}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := readMemoryLimit(tc.files)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("readMemoryLimit = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestMemoryLimitFollowsAResize: a resize rewrites the cgroup limit of the
// running container; the next step moves the Go soft limit with it.
func TestMemoryLimitFollowsAResize(t *testing.T) {
	file := filepath.Join(t.TempDir(), "memory.max")
	var applied []int64
	f := &memoryLimitFollower{files: []string{file}, percent: 90, set: func(v int64) int64 { applied = append(applied, v); return 0 }}
	for _, step := range []struct {
		limit string
		want  int64
	}{
		{"max", 0},                 // no limit: leave GOMEMLIMIT alone
		{"1048576000", 943718400},  // 1000 MiB → 90%
		{"1048576000", 0},          // unchanged: no call
		{"2097152000", 1887436800}, // resized in place to 2000 MiB
	} {
		if err := os.WriteFile(file, []byte(step.limit+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := f.step(); got != step.want {
			t.Fatalf("limit %s: step = %d, want %d", step.limit, got, step.want)
		}
	}
	if len(applied) != 2 || applied[1] != 1887436800 {
		t.Fatalf("SetMemoryLimit calls = %v", applied)
	}
}
