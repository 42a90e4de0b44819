// Command bundle generates Wayfabric's OLM bundle from config/, without
// operator-sdk: bundle/manifests (ClusterServiceVersion, CRDs and the other
// objects of config/default), bundle/metadata/annotations.yaml,
// bundle/tests/scorecard/config.yaml and bundle.Dockerfile.
//
// The output is a pure function of config/ and the flags, so a committed bundle
// can be checked with a regenerate-and-diff (test/packaging).
//
// Usage:
//
//	go run ./hack/bundle -version 0.1.0 [-config config] [-out bundle] [-dockerfile bundle.Dockerfile]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver/v4"
)

const packageName = "wayfabric"

type options struct {
	configDir      string
	outDir         string
	dockerfile     string
	version        semver.Version
	replaces       string
	managerImage   string
	channels       []string
	defaultChannel string
	scorecardImage string
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	var o options
	var version, channels string
	fs.StringVar(&o.configDir, "config", "config", "kustomize config directory (default/, manifests/, samples/)")
	fs.StringVar(&o.outDir, "out", "bundle", "bundle directory to (re)generate")
	fs.StringVar(&o.dockerfile, "dockerfile", "bundle.Dockerfile", "path of the bundle image Dockerfile to write")
	fs.StringVar(&version, "version", "", "operator version, semver without a leading v, e.g. 0.1.0 (required)")
	var replaces string
	fs.StringVar(&replaces, "replaces", "", "previous version this release upgrades from (sets spec.replaces); empty for the first release")
	fs.StringVar(&o.managerImage, "manager-image", "", "manager image (default ghcr.io/wayfabric/manager:v<version>)")
	fs.StringVar(&channels, "channels", "stable,candidate", "comma-separated OLM channels of this bundle")
	fs.StringVar(&o.defaultChannel, "default-channel", "stable", "default OLM channel of the package")
	fs.StringVar(&o.scorecardImage, "scorecard-image", "quay.io/operator-framework/scorecard-test:v1.42.0", "image of the scorecard basic and OLM tests")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	v, err := semver.Parse(strings.TrimPrefix(version, "v"))
	if err != nil {
		return o, fmt.Errorf("-version %q: %w", version, err)
	}
	o.version = v
	if replaces != "" {
		prev, err := semver.Parse(strings.TrimPrefix(replaces, "v"))
		if err != nil {
			return o, fmt.Errorf("-replaces %q: %w", replaces, err)
		}
		if !prev.LT(v) {
			return o, fmt.Errorf("-replaces %s is not older than -version %s", prev, v)
		}
		o.replaces = fmt.Sprintf("%s.v%s", packageName, prev)
	}
	if o.managerImage == "" {
		o.managerImage = "ghcr.io/wayfabric/manager:v" + v.String()
	}
	for _, c := range strings.Split(channels, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.channels = append(o.channels, c)
		}
	}
	if len(o.channels) == 0 {
		return o, fmt.Errorf("-channels is empty")
	}
	return o, nil
}

func run(o options) error {
	objs, err := kustomizeBuild(filepath.Join(o.configDir, "default"))
	if err != nil {
		return err
	}
	csv, extra, err := buildCSV(o, objs)
	if err != nil {
		return err
	}
	return writeBundle(o, csv, extra)
}
