// Command localrun is `make run`. It picks, in this order:
//   - the configured cluster (KUBECONFIG or ~/.kube/config): CRDs installed,
//     the manager run from source against it;
//   - as root on Linux, the local single-node Kubernetes of hack/cluster
//     ($WAYFABRIC_CLUSTER_DIR, else bin/cluster): the operator deployed as a
//     pod from config/local, the samples (the ZtunnelConfig with the
//     cluster's CNI dirs) and the transparent demo mesh of config/demo,
//     then `kubectl get waypoints -A -w`;
//   - otherwise (or with -envtest) a local control plane without nodes (etcd
//     and kube-apiserver from bin/k8s) with the CRDs and samples, and the
//     manager run from source.
//
// Ctrl-C stops what it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

func main() {
	assets := flag.String("assets", "", "folder with kube-apiserver, etcd and kubectl (make envtest-path)")
	version := flag.String("version", "v0.1.0", "version stamped into the manager")
	envtestOnly := flag.Bool("envtest", false, "use a local control plane without nodes, even as root or when a cluster is configured")
	keep := flag.Bool("keep", os.Getenv("WAYFABRIC_RUN_KEEP") == "1", "leave the local cluster up when stopped (default from WAYFABRIC_RUN_KEEP=1)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *assets, *version, *envtestOnly, *keep, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "make run: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, assets, version string, envtestOnly, keep bool, managerArgs []string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	kubeconfig, configured := configuredKubeconfig()
	if !configured && !envtestOnly {
		if canRunLocalCluster() {
			return runOnLocalCluster(ctx, newLocalCluster(root, assets), keep)
		}
		fmt.Println("No cluster is configured, and the local single-node Kubernetes needs root on Linux " +
			"(`sudo make run` gives you the whole mesh with traffic). Starting a control plane without nodes instead.")
	}
	if envtestOnly || !configured {
		cp, err := startLocalControlPlane(ctx, root, assets)
		if err != nil {
			return err
		}
		defer cp.stop()
		kubeconfig = cp.kubeconfig
		fmt.Printf("\nLocal control plane is up (etcd + kube-apiserver, no nodes). Look at it with:\n\n"+
			"  KUBECONFIG=%s %s get waypoints -A\n\n", rel(root, kubeconfig), rel(root, filepath.Join(assets, "kubectl")))
	} else {
		if err := installCRDs(root, kubeconfig); err != nil {
			return err
		}
		fmt.Printf("\nUsing the configured cluster (%s). Look at it with:\n\n  kubectl get waypoints -A\n\n", kubeconfig)
	}
	return runManager(ctx, root, version, kubeconfig, managerArgs)
}

func canRunLocalCluster() bool { return runtime.GOOS == "linux" && os.Geteuid() == 0 }

// rel shortens path for messages: relative to root when it is inside it.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
