package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParsePlatforms(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []platform
		wantErr bool
	}{
		{in: "linux/amd64,linux/arm64", want: []platform{{"linux", "amd64"}, {"linux", "arm64"}}},
		{in: " linux/arm64 ", want: []platform{{"linux", "arm64"}}},
		{in: "linux", wantErr: true},
		{in: "linux/amd64,/arm64", wantErr: true},
	} {
		got, err := parsePlatforms(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parsePlatforms(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestDiscoverBinariesFindsOnlyMainPackages(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"manager/main.go":               "package main\nfunc main() {}\n",
		"waypoint/flags.go":             "package main\n",
		"internal/buildinfo/bi.go":      "package buildinfo\n",
		"lib/lib.go":                    "package lib\n",
		"onlytest/main_test.go":         "package main\n",
		"internal/tool/main.go":         "package main\n",
		"testdata/fixture/main.go":      "package main\n",
		"ztunnel/main.go":               "// Command ztunnel.\npackage main\n",
		"ztunnel/capture_linux.go":      "package main\n",
		"ztunnel/capture_linux_test.go": "package main\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := discoverBinaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"manager", "waypoint", "ztunnel"}; !slices.Equal(got, want) {
		t.Errorf("discoverBinaries = %v, want %v", got, want)
	}
}

func TestRootfsTarIsReproducibleAndNonRootFriendly(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	a, err := rootfsTar("manager", []byte("binary"), map[string][]byte{"helper": []byte("h")}, mtime, "alias")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rootfsTar("manager", []byte("binary"), map[string][]byte{"helper": []byte("h")}, mtime, "alias")
	if !bytes.Equal(a, b) {
		t.Error("two layers from the same input differ")
	}
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = h
	}
	for _, tc := range []struct {
		name string
		mode int64
	}{
		{"manager", 0o755},
		{"tmp/", 0o1777},
		{"etc/passwd", 0o644},
	} {
		h, ok := entries[tc.name]
		if !ok {
			t.Errorf("layer has no %s", tc.name)
			continue
		}
		if h.Mode != tc.mode || !h.ModTime.Equal(mtime) {
			t.Errorf("%s: mode %o mtime %v, want %o %v", tc.name, h.Mode, h.ModTime, tc.mode, mtime)
		}
	}
	if h := entries["alias"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "manager" {
		t.Errorf("alias entry %+v, want a symlink to manager", h)
	}
}
