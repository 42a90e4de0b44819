package packaging

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/operator-framework/api/pkg/manifests"
)

// TestBundleIsUpToDate regenerates the bundle from config/ with the version,
// image and channels of the committed bundle and fails on any difference:
// run `make bundle` after changing config/, the API types or the CSV base.
func TestBundleIsUpToDate(t *testing.T) {
	root := repoRoot(t)
	committed, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatalf("loading the committed bundle: %v", err)
	}
	csv := committed.CSV
	out := filepath.Join(t.TempDir(), "bundle")
	dockerfile := filepath.Join(filepath.Dir(out), "bundle.Dockerfile")
	args := []string{
		"-config", filepath.Join(root, "config"),
		"-out", out, "-dockerfile", dockerfile,
		"-version", csv.Spec.Version.String(),
		"-manager-image", csv.Annotations["containerImage"],
		"-channels", strings.Join(committed.Channels, ","),
		"-default-channel", committed.DefaultChannel,
	}
	if csv.Spec.Replaces != "" {
		args = append(args, "-replaces", strings.TrimPrefix(csv.Spec.Replaces, "wayfabric.v"))
	}
	goRun(t, root, "hack/bundle", args...)

	want := readTree(t, out)
	got := readTree(t, filepath.Join(root, "bundle"))
	want["../bundle.Dockerfile"] = readFile(t, dockerfile)
	got["../bundle.Dockerfile"] = readFile(t, filepath.Join(root, "bundle.Dockerfile"))
	for _, name := range unionKeys(want, got) {
		if diff := cmp.Diff(strings.Split(want[name], "\n"), strings.Split(got[name], "\n")); diff != "" {
			t.Errorf("bundle/%s is not what `make bundle` generates (-generated +committed):\n%s", name, diff)
		}
	}
}

// readTree maps the path (relative to dir) of every file under dir to its content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = readFile(t, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func unionKeys(a, b map[string]string) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
