package api_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// controllerGen runs the pinned controller-gen (a go.mod tool) from the repository root.
func controllerGen(ctx context.Context, args ...string) []byte {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "controller-gen"}, args...)...)
	cmd.Dir = testenv.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "controller-gen %v: %s", args, stderr.String())
	return out
}

// expectSameFiles fails when a committed generated file differs from a fresh one.
func expectSameFiles(committedDir, freshDir, hint string) {
	fresh, err := os.ReadDir(freshDir)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, fresh).NotTo(BeEmpty())
	for _, f := range fresh {
		want, err := os.ReadFile(filepath.Join(freshDir, f.Name()))
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		got, err := os.ReadFile(filepath.Join(committedDir, f.Name()))
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s is missing: %s", f.Name(), hint)
		ExpectWithOffset(1, string(got)).To(Equal(string(want)), "%s is stale: %s", f.Name(), hint)
	}
}

var _ = Describe("Generated code", func() {
	root := testenv.RepoRoot()

	It("has deepcopy functions matching the Go types", func(ctx context.Context) {
		fresh := controllerGen(ctx, "object", "paths=./api/...", "output:object:stdout")
		committed, err := os.ReadFile(filepath.Join(root, "api", "v1alpha1", "zz_generated.deepcopy.go"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(committed)).To(Equal(string(fresh)), "api/v1alpha1/zz_generated.deepcopy.go is stale: run `make generate`")
	})

	It("has CRDs matching the Go types", func(ctx context.Context) {
		dir := GinkgoT().TempDir()
		controllerGen(ctx, "crd", "paths=./api/...", "output:crd:dir="+dir)
		expectSameFiles(filepath.Join(root, "config", "crd", "bases"), dir, "run `make manifests`")
	})

	It("has RBAC matching the kubebuilder markers", func(ctx context.Context) {
		dir := GinkgoT().TempDir()
		controllerGen(ctx, "rbac:roleName=manager-role", "paths=./api/...;./controllers/...;./proxy/...", "output:rbac:dir="+dir)
		expectSameFiles(filepath.Join(root, "config", "rbac"), dir, "run `make manifests`")
	})
})
