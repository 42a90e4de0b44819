package api_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

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
		controllerGen(ctx, "rbac:roleName=manager-role", "paths=./api/...;./controllers/...", "output:rbac:dir="+dir)
		expectSameFiles(filepath.Join(root, "config", "rbac"), dir, "run `make manifests`")
	})

	It("has apply configurations matching the Go types", func(ctx context.Context) {
		// The generator writes next to the types, so it runs on a copy of
		// the module's api/ folder.
		tmp := GinkgoT().TempDir()
		for _, f := range []string{"go.mod", "go.sum"} {
			copyTree(filepath.Join(root, f), filepath.Join(tmp, f))
		}
		copyTree(filepath.Join(root, "api"), filepath.Join(tmp, "api"), "applyconfiguration")
		cmd := exec.CommandContext(ctx, "go", "tool", "controller-gen", "applyconfiguration", "paths=./api/...")
		cmd.Dir, cmd.Env = tmp, append(os.Environ(), "GOWORK=off")
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "controller-gen applyconfiguration: %s", out)
		fresh, committed := treeFiles(filepath.Join(tmp, "api", "applyconfiguration")), treeFiles(filepath.Join(root, "api", "applyconfiguration"))
		Expect(fresh).NotTo(BeEmpty())
		Expect(slices.Sorted(maps.Keys(committed))).To(Equal(slices.Sorted(maps.Keys(fresh))), "api/applyconfiguration has other files than the generator writes: run `make generate`")
		for name, want := range fresh {
			Expect(committed[name]).To(Equal(want), "api/applyconfiguration/%s is stale: run `make generate`", name)
		}
	})
})

// copyTree copies a file or a folder, leaving out folders named in skip.
func copyTree(from, to string, skip ...string) {
	ExpectWithOffset(1, filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if slices.Contains(skip, d.Name()) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})).To(Succeed())
}

// treeFiles maps every file below dir (relative path) to its content.
func treeFiles(dir string) map[string]string {
	out := map[string]string{}
	ExpectWithOffset(1, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = string(b)
		return err
	})).To(Succeed())
	return out
}
