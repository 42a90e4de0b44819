package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// containerdImageName is the annotation `ctr images import` and Docker's
// containerd image store read the image name from.
const containerdImageName = "io.containerd.image.name"

// writeOCIArchive writes idx as an OCI image layout (oci-layout, index.json,
// blobs/) packed into a tarball at out. index.json names the image both the
// containerd way (full reference) and the OCI way (tag), so
// `ctr images import`, `docker load` and `skopeo copy oci-archive:` all work.
//
// content is a v1.ImageIndex (multi-arch) or a v1.Image.
func writeOCIArchive(content any, ref, tag, out, work string) error {
	dir, err := os.MkdirTemp(work, "layout-")
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	names := layout.WithAnnotations(map[string]string{
		containerdImageName:                 ref,
		"org.opencontainers.image.ref.name": tag,
	})
	switch c := content.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(c, names)
	case v1.Image:
		err = p.AppendImage(c, names)
	default:
		err = fmt.Errorf("cannot archive a %T", content)
	}
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := tarDir(dir, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

// tarDir packs dir reproducibly: sorted entries, fixed owner, mode and time.
func tarDir(dir, out string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, path := range paths {
		if err := addToTar(tw, dir, path); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addToTar(tw *tar.Writer, root, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if info.IsDir() {
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		return tw.WriteHeader(h)
	}
	h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(tw, src)
	return err
}
