package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImageImportsIntoContainerd is the local cluster's path: `ctr -n k8s.io
// images import` of a hack/images tarball, then running the container. It
// needs a containerd you may write to; point WAYFABRIC_CONTAINERD_ADDRESS at
// its socket (for example a throwaway `containerd --config` under /tmp).
func TestImageImportsIntoContainerd(t *testing.T) {
	address := os.Getenv("WAYFABRIC_CONTAINERD_ADDRESS")
	if address == "" {
		t.Skip("set WAYFABRIC_CONTAINERD_ADDRESS to a containerd socket to run this test")
	}
	if _, err := exec.LookPath("ctr"); err != nil {
		t.Skip("ctr is not installed")
	}
	root := repoRoot(t)
	out := t.TempDir()
	version := fmt.Sprintf("v0.0.1-ctr.%d", time.Now().UnixNano())
	goRun(t, root, "hack/images", "-cmd", filepath.Join("test", "packaging", "testdata", "cmd"),
		"-version", version, "-version-symbol", "main.version", "-out", out, "hello")
	ref := "ghcr.io/wayfabric/hello:" + version
	ctr := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("ctr", append([]string{"--address", address, "-n", "k8s.io"}, args...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	ctr("images", "import", filepath.Join(out, "hello-"+version+".tar"))
	t.Cleanup(func() { _ = exec.Command("ctr", "--address", address, "-n", "k8s.io", "images", "rm", ref).Run() })
	if list := ctr("images", "ls", "name=="+ref); !strings.Contains(list, "linux/amd64,linux/arm64") {
		t.Errorf("ctr images ls does not show both platforms for %s:\n%s", ref, list)
	}
	// ctr run replaces the whole command line (unlike docker run), so name the entrypoint.
	id := "hello-" + strings.ReplaceAll(version, ".", "-")
	got := ctr("run", "--rm", ref, id, "/hello", "--version")
	if want := "hello " + version + " ("; !strings.HasPrefix(got, want) {
		t.Errorf("the container printed %q, want it to start with %q", got, want)
	}
	if ids := strings.TrimSpace(ctr("run", "--rm", ref, id+"-ids", "/hello", "--ids")); ids != "65532:65532" {
		t.Errorf("the container runs as %s, want 65532:65532", ids)
	}
}
