package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/yaml"
)

// bundleDirs are the parts of an OLM bundle directory that go into its image,
// as bundle.Dockerfile copies them.
var bundleDirs = []string{"manifests", "metadata", filepath.Join("tests", "scorecard")}

// buildBundleImage is the image of bundle.Dockerfile (FROM scratch, the
// bundle's directories, metadata/annotations.yaml as labels), built without
// Docker. Bundle images hold no executables; they are labelled linux/amd64
// like those docker build makes.
func buildBundleImage(dir string, s imageSpec) (v1.Image, error) {
	labels, err := bundleLabels(dir)
	if err != nil {
		return nil, err
	}
	for k, v := range s.labels() {
		labels[k] = v
	}
	layerTar, err := treeTar(dir, bundleDirs, s.created())
	if err != nil {
		return nil, err
	}
	history := v1.History{Created: v1.Time{Time: s.created()}, CreatedBy: "hack/images: OLM bundle " + dir}
	return singleLayerImage(layerTar, history, func(cf *v1.ConfigFile) {
		cf.OS, cf.Architecture = "linux", "amd64"
		cf.Created = v1.Time{Time: s.created()}
		cf.Config.Labels = labels
	})
}

func bundleLabels(dir string) (map[string]string, error) {
	path := filepath.Join(dir, "metadata", "annotations.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Annotations) == 0 {
		return nil, fmt.Errorf("%s has no annotations", path)
	}
	return f.Annotations, nil
}

// treeTar packs the subdirectories subs of root, reproducibly, at the same
// paths relative to the image root.
func treeTar(root string, subs []string, mtime time.Time) ([]byte, error) {
	var paths []string
	for _, sub := range subs {
		err := filepath.WalkDir(filepath.Join(root, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			paths = append(paths, path)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{}
	for _, path := range paths {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil, err
		}
		// Parent directories (tests/ for tests/scorecard) first.
		for _, parent := range parents(filepath.ToSlash(rel)) {
			if !written[parent] {
				written[parent] = true
				if err := tw.WriteHeader(&tar.Header{Name: parent + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
					return nil, err
				}
			}
		}
		info, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		name := filepath.ToSlash(rel)
		if info.IsDir() {
			if !written[name] {
				written[name] = true
				if err := tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
					return nil, err
				}
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents returns the ancestors of a slash path, outermost first: a/b/c -> a, a/b.
func parents(p string) []string {
	var out []string
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}
