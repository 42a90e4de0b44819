package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// pluginBin is the plugin, built once and run as the runtime runs it.
var pluginBin string

// apiConfig and kube reach a real kube-apiserver (envtest); nil when
// KUBEBUILDER_ASSETS is unset, and the API tests skip.
var (
	apiConfig *rest.Config
	kube      kubernetes.Interface
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wayfabric-cni-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginBin = filepath.Join(dir, "wayfabric-cni")
	build := exec.Command("go", "build", "-o", pluginBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the plugin: %v\n", err)
		return 1
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		// envtest logs through controller-runtime; without a logger it
		// prints a warning with a stack trace.
		logf.SetLogger(logr.Discard())
		env := &envtest.Environment{BinaryAssetsDirectory: assets}
		cfg, err := env.Start()
		if err != nil {
			fmt.Fprintf(os.Stderr, "envtest: %v\n", err)
			return 1
		}
		defer env.Stop()
		apiConfig = cfg
		kube = kubernetes.NewForConfigOrDie(cfg)
		if err := seed(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "seeding the API server: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// newNetns creates a network namespace, bind-mounted at a file as
// containerd does, and returns the file's path. It needs root.
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root (make test runs as root)")
	}
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// This thread enters the new namespace and is never unlocked, so
		// it ends with the goroutine instead of serving other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mounting the namespace: %w", err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	return path
}
