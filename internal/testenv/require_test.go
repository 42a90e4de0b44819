package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// outcome records how RequireAssets ended a test, stopping the goroutine as
// testing.T's Fatal and Skip do.
type outcome struct {
	testing.TB
	failed, skipped string
}

func (o *outcome) Helper() {}

func (o *outcome) Fatalf(format string, args ...any) {
	o.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (o *outcome) Skip(args ...any) {
	o.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestRequireAssets(t *testing.T) {
	complete := t.TempDir()
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(complete, bin), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, assets, require string
		want                  string // "skip", "fail" or "run"
	}{
		{name: "no assets, not required: skips", want: "skip"},
		{name: "no assets, required: fails", require: "1", want: "fail"},
		{name: "assets without binaries, required: fails", assets: t.TempDir(), require: "1", want: "fail"},
		{name: "assets present: runs", assets: complete, want: "run"},
		{name: "assets present and required: runs", assets: complete, require: "1", want: "run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBEBUILDER_ASSETS", tc.assets)
			t.Setenv(RequireEnv, tc.require)
			o := &outcome{TB: t}
			var dir string
			done := make(chan struct{})
			go func() {
				defer close(done)
				dir = RequireAssets(o)
			}()
			<-done
			got := "run"
			switch {
			case o.failed != "":
				got = "fail"
			case o.skipped != "":
				got = "skip"
			}
			if got != tc.want {
				t.Fatalf("got %s (failed %q, skipped %q), want %s", got, o.failed, o.skipped, tc.want)
			}
			if got == "run" && dir != tc.assets {
				t.Errorf("returned %q, want %q", dir, tc.assets)
			}
		})
	}
}
