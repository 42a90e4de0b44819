package packaging

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

const imageVersion = "v0.0.1-test"

// TestImageOfFixtureBinary builds images for a tiny stand-in binary (quick,
// independent of the operator's code) and checks everything hack/images
// promises: platforms, user, entrypoint, labels, a working binary, and
// byte-for-byte reproducibility.
func TestImageOfFixtureBinary(t *testing.T) {
	root := repoRoot(t)
	cmdDir := filepath.Join("test", "packaging", "testdata", "cmd")
	first, second := t.TempDir(), t.TempDir()
	args := []string{"-cmd", cmdDir, "-version", imageVersion, "-version-symbol", "main.version"}
	out := goRun(t, root, "hack/images", append(args, "-out", first)...)
	if strings.Contains(out, "notmain") {
		t.Errorf("hack/images built an image for a package that is not main:\n%s", out)
	}
	goRun(t, root, "hack/images", append(args, "-out", second)...)

	name := "hello-" + imageVersion + ".tar"
	checkImageArchive(t, filepath.Join(first, name), "hello")
	if a, b := fileSHA256(t, filepath.Join(first, name)), fileSHA256(t, filepath.Join(second, name)); a != b {
		t.Errorf("two builds of the same source differ: %s vs %s", a, b)
	}
	entries, err := os.ReadDir(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("want exactly one image tarball (hello), got %d", len(entries))
	}
}

// TestImageOfManager builds the real manager image.
func TestImageOfManager(t *testing.T) {
	if testing.Short() {
		t.Skip("building the manager for two platforms takes minutes; skipped with -short")
	}
	root := repoRoot(t)
	out := t.TempDir()
	goRun(t, root, "hack/images", "-version", imageVersion, "-out", out, "manager")
	checkImageArchive(t, filepath.Join(out, "manager-"+imageVersion+".tar"), "manager")
}

// checkImageArchive opens an OCI layout tarball written by hack/images and
// checks the multi-arch index and each image in it.
func checkImageArchive(t *testing.T, archive, binary string) {
	t.Helper()
	dir := t.TempDir()
	untar(t, archive, dir)
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("%s is not an OCI image layout: %v", archive, err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topManifest.Manifests) != 1 {
		t.Fatalf("index.json lists %d entries, want 1", len(topManifest.Manifests))
	}
	entry := topManifest.Manifests[0]
	wantRef := "ghcr.io/wayfabric/" + binary + ":" + imageVersion
	if got := entry.Annotations["io.containerd.image.name"]; got != wantRef {
		t.Errorf("io.containerd.image.name = %q, want %q (ctr images import names the image from it)", got, wantRef)
	}
	if got := entry.Annotations["org.opencontainers.image.ref.name"]; got != imageVersion {
		t.Errorf("org.opencontainers.image.ref.name = %q, want %q", got, imageVersion)
	}
	idx, err := top.ImageIndex(entry.Digest)
	if err != nil {
		t.Fatalf("index.json does not point at an image index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, desc := range im.Manifests {
		if desc.Platform == nil {
			t.Fatalf("index entry %s has no platform", desc.Digest)
		}
		p := desc.Platform.OS + "/" + desc.Platform.Architecture
		platforms = append(platforms, p)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, img, binary, desc.Platform)
	}
	slices.Sort(platforms)
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms = %v, want %v", platforms, want)
	}
}

func checkImage(t *testing.T, img v1.Image, binary string, p *v1.Platform) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	where := p.OS + "/" + p.Architecture
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("%s: config says %s/%s", where, cf.OS, cf.Architecture)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("%s: user = %q, want 65532:65532", where, cf.Config.User)
	}
	if want := []string{"/" + binary}; !slices.Equal(cf.Config.Entrypoint, want) {
		t.Errorf("%s: entrypoint = %q, want %q", where, cf.Config.Entrypoint, want)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/wayfabric/wayfabric",
		"org.opencontainers.image.version":  imageVersion,
		"org.opencontainers.image.title":    binary,
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	for k, v := range wantLabels {
		if cf.Config.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", where, k, cf.Config.Labels[k], v)
		}
	}
	if !cf.Created.Time.Equal(cf.Created.Time.UTC()) || cf.Created.Unix() != 0 {
		t.Errorf("%s: created = %v, want the fixed epoch (reproducible builds)", where, cf.Created.Time)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%s: %d layers, want 1 (empty base + binary)", where, len(layers))
	}
	bin := extractFile(t, layers[0], binary)
	if p.Architecture != runtime.GOARCH || p.OS != runtime.GOOS {
		return
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s --version: %v\n%s", where, binary, err, out)
	}
	if want := binary + " " + imageVersion + " ("; !strings.HasPrefix(string(out), want) {
		t.Errorf("%s: %s --version printed %q, want it to start with %q", where, binary, out, want)
	}
}

// extractFile writes the file at name in the layer to a temporary path.
func extractFile(t *testing.T, layer v1.Layer, name string) string {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("the layer has no /%s", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") != name {
			continue
		}
		if h.Mode&0o111 == 0 || h.Uid != 0 {
			t.Errorf("/%s: mode %o uid %d, want an executable owned by root", name, h.Mode, h.Uid)
		}
		path := filepath.Join(t.TempDir(), name)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("archive entry %q escapes the directory", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
