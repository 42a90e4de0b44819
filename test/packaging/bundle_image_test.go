package packaging

import (
	"archive/tar"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/operator-framework/api/pkg/manifests"
	"sigs.k8s.io/yaml"
)

// TestBundleImage builds the OLM bundle image without Docker and checks it is
// what bundle.Dockerfile describes: the bundle's files at /manifests,
// /metadata and /tests/scorecard, and metadata/annotations.yaml as labels.
func TestBundleImage(t *testing.T) {
	root := repoRoot(t)
	out := t.TempDir()
	goRun(t, root, "hack/images", "-bundle", filepath.Join(root, "bundle"), "-version", imageVersion, "-out", out)

	dir := t.TempDir()
	untar(t, filepath.Join(out, "wayfabric-bundle-"+imageVersion+".tar"), dir)
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json lists %d entries, want 1", len(im.Manifests))
	}
	if got, want := im.Manifests[0].Annotations["io.containerd.image.name"], "ghcr.io/wayfabric/wayfabric-bundle:"+imageVersion; got != want {
		t.Errorf("image name %q, want %q", got, want)
	}
	img, err := top.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var annotations struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(root, "bundle", "metadata", "annotations.yaml"))), &annotations); err != nil {
		t.Fatal(err)
	}
	for k, v := range annotations.Annotations {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (from metadata/annotations.yaml)", k, cf.Config.Labels[k], v)
		}
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("want one layer, got %d (%v)", len(layers), err)
	}
	inImage := layerFiles(t, layers[0])
	onDisk := readTree(t, filepath.Join(root, "bundle"))
	for name, content := range onDisk {
		if inImage[name] != content {
			t.Errorf("/%s in the image differs from bundle/%s", name, name)
		}
	}
	if len(inImage) != len(onDisk) {
		t.Errorf("the image holds %d files, bundle/ %d", len(inImage), len(onDisk))
	}

	// The image's content is a loadable bundle.
	extracted := t.TempDir()
	for name, content := range inImage {
		writeFile(t, filepath.Join(extracted, name), content)
	}
	if _, err := manifests.GetBundleFromDir(extracted); err != nil {
		t.Errorf("the image's files do not load as a bundle: %v", err)
	}
}

func layerFiles(t *testing.T, layer v1.Layer) map[string]string {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "/")] = string(data)
	}
}
