// Command localrun is `make run`: it runs the Wayfabric manager against the
// configured cluster or, when none is configured, against a local control
// plane (etcd and kube-apiserver from bin/k8s) with the CRDs and samples
// installed. Ctrl-C stops the manager and the control plane.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	assets := flag.String("assets", "", "folder with kube-apiserver, etcd and kubectl (make envtest-path)")
	version := flag.String("version", "v0.1.0", "version stamped into the manager")
	local := flag.Bool("local", false, "always use a local control plane, even when a cluster is configured")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *assets, *version, *local, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "make run: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, assets, version string, forceLocal bool, managerArgs []string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	kubeconfig, configured := configuredKubeconfig()
	if forceLocal || !configured {
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

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
