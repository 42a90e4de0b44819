package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// localCluster is the real single-node Kubernetes of hack/cluster, with the
// operator running in it as a pod: what `make run` gives a newcomer as root.
type localCluster struct {
	root       string
	dir        string
	kubectl    string
	kubeconfig string
	cacheDir   string
}

// clusterDir is where hack/cluster keeps the local cluster:
// $WAYFABRIC_CLUSTER_DIR, else bin/cluster (hack/cluster/lib.sh's rule).
func clusterDir(root string) string {
	if d := os.Getenv("WAYFABRIC_CLUSTER_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, "bin", "cluster")
}

func newLocalCluster(root, assets string) *localCluster {
	dir := clusterDir(root)
	return &localCluster{
		root:       root,
		dir:        dir,
		kubectl:    filepath.Join(assets, "kubectl"),
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		cacheDir:   filepath.Join(dir, "run", "kubecache"),
	}
}

// runOnLocalCluster brings the local cluster up, deploys the operator from
// config/local, the samples and the demo mesh of config/demo, then follows
// `kubectl get waypoints -A -w` until ctx ends. The cluster is torn down at
// the end unless keep is set.
func runOnLocalCluster(ctx context.Context, lc *localCluster, keep bool) (err error) {
	if lc.isUp(ctx) {
		// Someone else's cluster (make cluster-up, an earlier run kept up):
		// use it, and leave it as it was found.
		fmt.Println("No cluster is configured; the local cluster is already up: using it, and leaving it up.")
		keep = true
	} else {
		fmt.Println("No cluster is configured: starting the local single-node Kubernetes (hack/cluster, needs root).")
		// On failure or Ctrl-C, up.sh undoes what it started itself.
		if err := lc.script(ctx, "hack/cluster/up.sh"); err != nil {
			return fmt.Errorf("starting the local cluster: %w (logs: %s)", err, rel(lc.root, filepath.Join(lc.dir, "logs")))
		}
	}
	defer func() {
		if keep {
			fmt.Println("\nThe cluster stays up; stop it with `make cluster-down`.")
			return
		}
		fmt.Println("\nstopping the local cluster (make cluster-down)")
		if derr := lc.down(); derr != nil && err == nil {
			err = derr
		}
	}()
	steps := []struct {
		what string
		do   func(context.Context) error
	}{
		{"building and importing the images (hack/e2e/images.sh)", func(ctx context.Context) error {
			return lc.script(ctx, "hack/e2e/images.sh")
		}},
		{"installing the Gateway API CRDs (standard channel)", lc.installGatewayAPI},
		{"deploying the operator (config/local: config/default with the local images)", func(ctx context.Context) error {
			if err := lc.applyKustomization(ctx, "config/local"); err != nil {
				return err
			}
			_, err := lc.kubectlOut(ctx, "-n", OperatorNamespace, "rollout", "status", "deployment/wayfabric-manager", "--timeout=3m")
			return err
		}},
		{"applying the Waypoint samples (config/samples)", lc.applyWaypointSamples},
		{"applying the ZtunnelConfig sample with the local cluster's CNI dirs, and waiting for its ztunnel", lc.applyZtunnelSample},
		{"applying the demo mesh (config/demo: ambient namespace, echo app, HTTPRoute 80/20, autoscaled Waypoint, plain HTTP clients)", func(ctx context.Context) error {
			return lc.applyKustomization(ctx, "config/demo")
		}},
	}
	for _, s := range steps {
		fmt.Printf("\n== %s\n", s.what)
		if err := s.do(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	kubectl := rel(lc.root, lc.kubectl)
	fmt.Printf(`
The mesh is up. In another shell:

  export KUBECONFIG=%s KUBECACHEDIR=%s
  %s get waypoints -A -w
  %s get ztunnelconfigs -o wide                         # nodes, versions, captured pods
  %s -n demo logs deployment/load -f                     # plain HTTP clients: requests, failures, p99, 80/20 split every 10 s
  %s -n demo scale deployment/load --replicas=6          # 150 req/s: the demo Waypoint scales out
  %s -n demo scale deployment/load --replicas=1          # 25 req/s: and back in

%s Watching the Waypoints:

`, rel(lc.root, lc.kubeconfig), rel(lc.root, lc.cacheDir), kubectl, kubectl, kubectl, kubectl, kubectl, stopHint(keep))
	// kubectl -w ends when the API server closes the watch (its request
	// timeout, 30-60 min): start it again until Ctrl-C.
	for first := true; ctx.Err() == nil; first = false {
		args := []string{"get", "waypoints", "-A", "-w"}
		if !first {
			args = append(args, "--no-headers")
		}
		watch := lc.command(ctx, args...)
		watch.Stdout, watch.Stderr = os.Stdout, os.Stderr
		if err := watch.Run(); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "watching the Waypoints: %v; again in 5 s\n", err)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	return nil
}

func stopHint(keep bool) string {
	if keep {
		return "Ctrl-C stops watching; the cluster stays up (`make cluster-down` stops it)."
	}
	return "Ctrl-C stops everything and restores the machine (WAYFABRIC_RUN_KEEP=1 keeps the cluster up)."
}

// isUp reports whether the local cluster answers /readyz.
func (lc *localCluster) isUp(ctx context.Context) bool {
	if _, err := os.Stat(lc.kubeconfig); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := output(lc.command(ctx, "get", "--raw", "/readyz"), lc.root)
	return err == nil
}

func (lc *localCluster) installGatewayAPI(ctx context.Context) error {
	dir, err := testenv.GatewayAPICRDDir()
	if err != nil {
		return err
	}
	_, err = lc.kubectlOut(ctx, "apply", "--server-side", "-f", dir)
	return err
}

// applyWaypointSamples applies the Waypoint samples (applyZtunnelSample
// applies the last one, adapted to this cluster).
func (lc *localCluster) applyWaypointSamples(ctx context.Context) error {
	for _, f := range []string{"mesh_v1alpha1_waypoint.yaml", "mesh_v1alpha1_waypoint_fixed.yaml"} {
		if _, err := lc.kubectlOut(ctx, "apply", "--server-side", "-f", filepath.Join(lc.root, "config", "samples", f)); err != nil {
			return err
		}
	}
	return nil
}

func (lc *localCluster) applyKustomization(ctx context.Context, dir string) error {
	manifests, err := output(exec.CommandContext(ctx, "go", "tool", "kustomize", "build", dir), lc.root)
	if err != nil {
		return err
	}
	cmd := lc.command(ctx, "apply", "--server-side", "-f", "-")
	cmd.Stdin = strings.NewReader(manifests)
	_, err = output(cmd, lc.root)
	return err
}

// script runs a hack/ script with its output shown. On cancellation the
// script gets SIGTERM and time to run its own cleanup trap (up.sh tears down
// what it started), never an immediate SIGKILL.
func (lc *localCluster) script(ctx context.Context, path string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(lc.root, path))
	cmd.Dir, cmd.Stdout, cmd.Stderr = lc.root, os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Minute
	return cmd.Run()
}

// down runs hack/cluster/down.sh in its own process group, so that a second
// Ctrl-C cannot leave the machine half restored.
func (lc *localCluster) down() error {
	cmd := exec.Command(filepath.Join(lc.root, "hack", "cluster", "down.sh"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = lc.root, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("stopping the local cluster: %w; run `make cluster-down`", err)
	}
	return nil
}

func (lc *localCluster) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, lc.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+lc.kubeconfig, "KUBECACHEDIR="+lc.cacheDir)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (lc *localCluster) kubectlOut(ctx context.Context, args ...string) (string, error) {
	out, err := output(lc.command(ctx, args...), lc.root)
	if err == nil {
		fmt.Print(out)
	}
	return out, err
}

// output runs cmd in dir and returns its stdout; a failure carries stderr.
func output(cmd *exec.Cmd, dir string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
