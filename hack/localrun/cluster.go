package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// repoRoot finds the folder holding go.mod, so `go run` works from anywhere inside the repository.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run me from inside the Wayfabric repository")
		}
		dir = parent
	}
}

// configuredKubeconfig reports the kubeconfig a user configured (KUBECONFIG or
// ~/.kube/config) if it names a current context.
func configuredKubeconfig() (string, bool) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := rules.Load()
	if err != nil || cfg.CurrentContext == "" {
		return "", false
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return env, true
	}
	return rules.GetDefaultFilename(), true
}

type localControlPlane struct {
	env        *envtest.Environment
	kubeconfig string
}

func startLocalControlPlane(ctx context.Context, root, assets string) (*localControlPlane, error) {
	if assets == "" {
		return nil, errors.New("--assets is required (run through `make run`)")
	}
	os.Setenv("KUBEBUILDER_ASSETS", assets)
	env, err := testenv.New()
	if err != nil {
		return nil, err
	}
	fmt.Println("starting a local control plane (etcd, kube-apiserver) with the Wayfabric and Gateway API CRDs")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the local control plane: %w", err)
	}
	cp := &localControlPlane{env: env}
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var raw []byte
		if raw, err = admin.KubeConfig(); err == nil {
			cp.kubeconfig = filepath.Join(root, "bin", "local", "kubeconfig")
			if err = os.MkdirAll(filepath.Dir(cp.kubeconfig), 0o755); err == nil {
				err = os.WriteFile(cp.kubeconfig, raw, 0o600)
			}
		}
	}
	if err == nil {
		err = applySamples(ctx, cfg, env)
	}
	if err != nil {
		cp.stop()
		return nil, err
	}
	return cp, nil
}

func (cp *localControlPlane) stop() {
	fmt.Println("stopping the local control plane")
	if err := cp.env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the local control plane: %v\n", err)
	}
}

// installCRDs applies our CRDs to a configured cluster.
func installCRDs(root, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfPathMissing: true,
	})
	if err != nil {
		return fmt.Errorf("installing the CRDs: %w", err)
	}
	return nil
}

// runManager builds cmd/manager and runs it until ctx ends.
func runManager(ctx context.Context, root, version, kubeconfig string, args []string) error {
	bin := filepath.Join(root, "bin", "manager")
	build := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X github.com/wayfabric/wayfabric/cmd/internal/buildinfo.Version="+version, "./cmd/manager")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Printf("running the manager %s (%s)\n", version, strings.Join(append([]string{bin}, args...), " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Signal(os.Interrupt)
		// Stopped on purpose: its exit status is not news.
		select {
		case <-done: //nolint:errcheck // see above
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done //nolint:errcheck // see above
		}
		return nil
	}
}
