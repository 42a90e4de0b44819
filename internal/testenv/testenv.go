// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest) with Wayfabric's CRDs and the Gateway API CRDs installed. The
// binaries come from bin/k8s/<version> (built by hack/build-k8s.sh) through
// KUBEBUILDER_ASSETS, which `make test` sets.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wayfabric/wayfabric/controllers/scheme"
)

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns KUBEBUILDER_ASSETS, or an error that says how to get it.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return "", fmt.Errorf("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, or run `make envtest` and export KUBEBUILDER_ASSETS=$(make -s envtest-path)")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("KUBEBUILDER_ASSETS=%s has no %s: run `make envtest`", dir, bin)
		}
	}
	return dir, nil
}

// RequireEnv, when set (`make test` sets it), turns a missing
// KUBEBUILDER_ASSETS from a skip into a failure: a run meant to test against
// a real API server must never pass by skipping.
const RequireEnv = "WAYFABRIC_REQUIRE_ENVTEST"

// RequireAssets returns KUBEBUILDER_ASSETS for a test that needs a real
// kube-apiserver and etcd. Without them t skips, so a plain `go test` works
// on a machine without the binaries, or fails when RequireEnv is set.
func RequireAssets(t testing.TB) string {
	t.Helper()
	dir, err := AssetsDir()
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%v (%s is set: envtest tests must run, not skip)", err, RequireEnv)
		}
		t.Skip(err.Error())
	}
	return dir
}

// GatewayAPICRDDir is the standard-channel CRD folder of the
// sigs.k8s.io/gateway-api module version in go.mod.
func GatewayAPICRDDir() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api")
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating the sigs.k8s.io/gateway-api module: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("gateway-api CRDs not found: %w", err)
	}
	return dir, nil
}

// StartOrSkip skips t when the envtest binaries are missing (see
// RequireAssets), else starts env (as New or NewWithoutGatewayAPI made it,
// with their error) and stops it when t ends.
func StartOrSkip(t testing.TB, env *envtest.Environment, err error) *rest.Config {
	t.Helper()
	RequireAssets(t)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return cfg
}

// NewWithoutGatewayAPI is New without the Gateway API CRDs, for tests that
// install them while something runs; it also returns their folder.
func NewWithoutGatewayAPI() (*envtest.Environment, string, error) {
	env, err := New()
	if err != nil {
		return nil, "", err
	}
	gatewayCRDs, err := GatewayAPICRDDir()
	if err != nil {
		return nil, "", err
	}
	env.CRDDirectoryPaths = slices.DeleteFunc(env.CRDDirectoryPaths, func(p string) bool { return p == gatewayCRDs })
	return env, gatewayCRDs, nil
}

// New returns an envtest environment with every CRD the manager needs. Call
// Start on it and Stop when done.
func New() (*envtest.Environment, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	gatewayCRDs, err := GatewayAPICRDDir()
	if err != nil {
		return nil, err
	}
	return &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases"), gatewayCRDs},
		ErrorIfCRDPathMissing: true,
		// envtest waits 10 s for CRDs to be served; on a shared 2-core
		// machine under load that was seen to take over a minute.
		CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: 2 * time.Minute},
		Scheme:            scheme.New(),
	}, nil
}
