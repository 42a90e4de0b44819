package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonRoot is the user every image runs as, the same as distroless "nonroot".
const nonRoot = "65532:65532"

type platformBinary struct {
	platform platform
	path     string
	// companions are further binaries of the same platform shipped in the
	// image next to the main one, by name.
	companions map[string]string
}

type imageSpec struct {
	binary   string // name of the binary, also the image title and entrypoint
	ref      string // full image reference, e.g. ghcr.io/wayfabric/manager:v0.1.0
	version  string
	source   string
	epoch    int64
	binaries []platformBinary
	// links are extra names of the binary (symlinks next to it): a
	// multi-call binary picks its role from the name it runs as.
	links []string
}

func (s imageSpec) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       s.binary,
		"org.opencontainers.image.description": "Wayfabric ambient service mesh: " + s.binary,
		"org.opencontainers.image.version":     s.version,
		"org.opencontainers.image.source":      s.source,
		"org.opencontainers.image.url":         s.source,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "Wayfabric",
		"org.opencontainers.image.created":     s.created().Format(time.RFC3339),
	}
}

func (s imageSpec) created() time.Time { return time.Unix(s.epoch, 0).UTC() }

// buildIndex assembles one image per platform and an OCI index over them.
func buildIndex(s imageSpec) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, pb := range s.binaries {
		img, err := buildImage(s, pb)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pb.platform, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: pb.platform.os, Architecture: pb.platform.arch},
			},
		})
	}
	idx = mutate.AppendManifests(idx, adds...)
	annotated, ok := mutate.Annotations(idx, s.labels()).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("annotating the index")
	}
	return annotated, nil
}

func buildImage(s imageSpec, pb platformBinary) (v1.Image, error) {
	bin, err := os.ReadFile(pb.path)
	if err != nil {
		return nil, err
	}
	extra := map[string][]byte{}
	for name, path := range pb.companions {
		if extra[name], err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	layerTar, err := rootfsTar(s.binary, bin, extra, s.created(), s.links...)
	if err != nil {
		return nil, err
	}
	img, err := singleLayerImage(layerTar, v1.History{
		Created:   v1.Time{Time: s.created()},
		CreatedBy: "hack/images: static /" + s.binary + " on an empty base",
		Comment:   "built by github.com/wayfabric/wayfabric/hack/images",
	}, func(cf *v1.ConfigFile) {
		cf.OS, cf.Architecture = pb.platform.os, pb.platform.arch
		cf.Created = v1.Time{Time: s.created()}
		cf.Author = "Wayfabric"
		cf.Config.User = nonRoot
		cf.Config.Entrypoint = []string{"/" + s.binary}
		cf.Config.Cmd = nil
		cf.Config.WorkingDir = "/"
		cf.Config.Env = []string{"PATH=/"}
		cf.Config.Labels = s.labels()
	})
	if err != nil {
		return nil, err
	}
	annotated, ok := mutate.Annotations(img, s.labels()).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("annotating the image")
	}
	return annotated, nil
}

// singleLayerImage is an OCI image of the one layer layerTar on an empty base,
// its history entry history, and its config file as configure leaves it.
func singleLayerImage(layerTar []byte, history v1.History, configure func(*v1.ConfigFile)) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: history})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	configure(cf)
	return mutate.ConfigFile(img, cf)
}

// rootfsTar is the image's only layer: the binary, its companions and
// symlinks to it named links, passwd and group entries for the non-root user
// (so tools show a name), and a world-writable /tmp.
func rootfsTar(binary string, content []byte, companions map[string][]byte, mtime time.Time, links ...string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		dir  bool
		data []byte
	}{
		{name: binary, mode: 0o755, data: content},
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	for _, name := range slices.Sorted(maps.Keys(companions)) { // sorted: reproducible
		files = append(files, struct {
			name string
			mode int64
			dir  bool
			data []byte
		}{name: name, mode: 0o755, data: companions[name]})
	}
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(f.data)),
		}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if f.name == "home/nonroot/" {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	for _, l := range links {
		h := &tar.Header{Name: l, Typeflag: tar.TypeSymlink, Linkname: binary, Mode: 0o777, ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
