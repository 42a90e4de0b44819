// Command images builds Wayfabric's container images without a Docker engine.
//
// For every main package under cmd/ (or the binaries named as arguments) it
// cross-compiles a static binary per platform, puts it on an empty base with a
// non-root user, and writes one multi-arch OCI image index per binary as an OCI
// image-layout tarball, bin/images/<binary>-<version>.tar. The tarballs are
// byte-for-byte reproducible and can be loaded with
//
//	ctr -n k8s.io images import bin/images/manager-v0.1.0.tar
//	docker load -i bin/images/manager-v0.1.0.tar   (Docker 25+ with the containerd image store)
//	skopeo copy oci-archive:bin/images/manager-v0.1.0.tar docker://REGISTRY/manager:v0.1.0
//
// With -bundle DIR it instead builds the OLM bundle image of bundle.Dockerfile,
// bin/images/wayfabric-bundle-<version>.tar.
//
// Usage:
//
//	go run ./hack/images -version v0.1.0 [-repo ghcr.io/wayfabric] [-out bin/images] [-cmd DIR] [-links NAME,...] [binary ...]
//	go run ./hack/images -version v0.1.0 -bundle bundle
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

type config struct {
	version   string
	symbol    string
	repo      string
	outDir    string
	cmdDir    string
	source    string
	platforms []platform
	epoch     int64
	binaries  []string
	bundle    string
	links     []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	var cfg config
	var platforms string
	fs.StringVar(&cfg.version, "version", "", "release version stamped into the binaries and used as the image tag, e.g. v0.1.0 (required)")
	fs.StringVar(&cfg.symbol, "version-symbol", versionVar, "Go variable the version is linked into (-ldflags -X)")
	fs.StringVar(&cfg.repo, "repo", "ghcr.io/wayfabric", "image repository prefix; images are named <repo>/<binary>:<version>")
	fs.StringVar(&cfg.outDir, "out", filepath.Join("bin", "images"), "directory the image tarballs are written to")
	fs.StringVar(&cfg.cmdDir, "cmd", "cmd", "directory whose subdirectories hold the binaries' main packages")
	fs.StringVar(&cfg.source, "source", "https://github.com/wayfabric/wayfabric", "value of the org.opencontainers.image.source label")
	fs.StringVar(&cfg.bundle, "bundle", "", "instead of binaries, build the OLM bundle image <repo>/wayfabric-bundle:<version> from this bundle directory")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated list of os/arch platforms")
	fs.Int64Var(&cfg.epoch, "source-date-epoch", epochFromEnv(), "timestamp (Unix seconds) of image configs and files; default $SOURCE_DATE_EPOCH or 0")
	var links string
	fs.StringVar(&links, "links", "", "comma-separated extra names for the binary, as symlinks in the image (a multi-call binary picks its role by name)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.version == "" {
		return cfg, fmt.Errorf("-version is required")
	}
	if !strings.HasPrefix(cfg.version, "v") {
		cfg.version = "v" + cfg.version
	}
	var err error
	if cfg.platforms, err = parsePlatforms(platforms); err != nil {
		return cfg, err
	}
	cfg.binaries = fs.Args()
	for _, l := range strings.Split(links, ",") {
		if l = strings.TrimSpace(l); l != "" {
			if strings.ContainsAny(l, "/.") {
				return cfg, fmt.Errorf("-links: %q must be a plain file name", l)
			}
			cfg.links = append(cfg.links, l)
		}
	}
	return cfg, nil
}

func run(cfg config) error {
	if cfg.bundle != "" {
		return runBundle(cfg)
	}
	binaries := cfg.binaries
	if len(binaries) == 0 {
		var err error
		if binaries, err = discoverBinaries(cfg.cmdDir); err != nil {
			return err
		}
		if len(binaries) == 0 {
			return fmt.Errorf("no main packages under %s", cfg.cmdDir)
		}
	}
	work, err := makeDirs(cfg.outDir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	for _, bin := range binaries {
		if isCompanion(bin) {
			continue // shipped inside its main binary's image
		}
		ref := cfg.ref(bin)
		spec := imageSpec{
			binary: bin, ref: ref, version: cfg.version, source: cfg.source, epoch: cfg.epoch, links: cfg.links,
		}
		for _, p := range cfg.platforms {
			path := filepath.Join(work, p.os+"-"+p.arch, bin)
			if err := goBuild(filepath.Join(cfg.cmdDir, bin), path, p, cfg.symbol, cfg.version); err != nil {
				return err
			}
			pb := platformBinary{platform: p, path: path, companions: map[string]string{}}
			for _, c := range companions[bin] {
				cpath := filepath.Join(work, p.os+"-"+p.arch, c)
				if err := goBuild(filepath.Join(cfg.cmdDir, c), cpath, p, cfg.symbol, cfg.version); err != nil {
					return err
				}
				pb.companions[c] = cpath
			}
			spec.binaries = append(spec.binaries, pb)
		}
		idx, err := buildIndex(spec)
		if err != nil {
			return fmt.Errorf("%s: %w", bin, err)
		}
		if err := cfg.archive(idx, bin, work); err != nil {
			return fmt.Errorf("%s: %w", bin, err)
		}
	}
	return nil
}

// companions ship inside another binary's image instead of their own:
// the ztunnel installs its CNI plugin on the node from its own image.
var companions = map[string][]string{"ztunnel": {"wayfabric-cni"}}

func isCompanion(bin string) bool {
	for _, cs := range companions {
		if slices.Contains(cs, bin) {
			return true
		}
	}
	return false
}

func runBundle(cfg config) error {
	const name = "wayfabric-bundle"
	spec := imageSpec{binary: name, ref: cfg.ref(name), version: cfg.version, source: cfg.source, epoch: cfg.epoch}
	img, err := buildBundleImage(cfg.bundle, spec)
	if err != nil {
		return fmt.Errorf("bundle image: %w", err)
	}
	work, err := makeDirs(cfg.outDir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	return cfg.archive(img, name, work)
}

// ref is the reference of the image of name: <repo>/<name>:<version>.
func (cfg config) ref(name string) string {
	return fmt.Sprintf("%s/%s:%s", cfg.repo, name, cfg.version)
}

// archive writes content, the image (or index) of name, to its tarball
// <out>/<name>-<version>.tar and reports where it went.
func (cfg config) archive(content any, name, work string) error {
	ref := cfg.ref(name)
	out := filepath.Join(cfg.outDir, fmt.Sprintf("%s-%s.tar", name, cfg.version))
	if err := writeOCIArchive(content, ref, cfg.version, out, work); err != nil {
		return err
	}
	fmt.Printf("%s -> %s\n", ref, out)
	return nil
}

// makeDirs creates the output directory outDir and returns a new scratch
// directory, which the caller removes.
func makeDirs(outDir string) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp("", "wayfabric-images-")
}
