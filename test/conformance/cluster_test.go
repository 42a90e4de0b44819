//go:build conformance

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// cluster is the local cluster of hack/cluster and a kubectl for it.
type cluster struct {
	root, dir, kubeconfig, kubectl, containerd string
}

func localCluster(t *testing.T) cluster {
	t.Helper()
	root := testenv.RepoRoot()
	dir := os.Getenv("WAYFABRIC_CLUSTER_DIR")
	if dir == "" {
		dir = filepath.Join(root, "bin", "cluster")
	}
	c := cluster{root: root, dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig"),
		containerd: filepath.Join(dir, "run", "containerd", "containerd.sock")}
	if os.Geteuid() != 0 {
		t.Skip("the conformance suite needs the local cluster, which needs root: run `sudo make conformance`")
	}
	if _, err := os.Stat(c.kubeconfig); err != nil {
		t.Skipf("no local cluster (%s is missing): run `sudo make conformance`, or `sudo make cluster-up && sudo hack/e2e/images.sh` first", c.kubeconfig)
	}
	matches, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "*", "kubectl"))
	if len(matches) == 0 {
		t.Fatal("no kubectl under bin/k8s: run `make envtest`")
	}
	c.kubectl = matches[len(matches)-1]
	return c
}

// run executes a command from the repository root against the cluster.
func (c cluster) run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "GOWORK=off")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (c cluster) kubectlOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := c.run(ctx, stdin, c.kubectl, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor runs `kubectl wait` and, when it fails, logs what explains it
// (the objects' status, and the listed diagnostics) before failing.
func (c cluster) waitFor(t *testing.T, diagnose [][]string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := c.run(ctx, "", c.kubectl, append([]string{"wait"}, args...)...); err != nil {
		for _, d := range diagnose {
			out, derr := c.run(ctx, "", c.kubectl, d...)
			t.Logf("kubectl %s:\n%s%v", strings.Join(d, " "), out, derr)
		}
		t.Fatal(err)
	}
}

func (c cluster) apply(t *testing.T, manifests string) {
	t.Helper()
	c.kubectlOK(t, manifests, "apply", "--server-side", "--force-conflicts", "--field-manager=wayfabric-conformance", "-f", "-")
}

// images lists the image references in the cluster's containerd.
func (c cluster) images(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.run(ctx, "", "ctr", "--address", c.containerd, "-n", "k8s.io", "images", "ls", "-q")
	if err != nil {
		t.Fatal(err)
	}
	return out
}
