package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

const versionVar = "github.com/wayfabric/wayfabric/cmd/internal/buildinfo.Version"

type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }

func parsePlatforms(list string) ([]platform, error) {
	var out []platform
	for _, s := range strings.Split(list, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(s), "/")
		if !ok || osName == "" || arch == "" {
			return nil, fmt.Errorf("platform %q is not os/arch", s)
		}
		out = append(out, platform{os: osName, arch: arch})
	}
	return out, nil
}

// goBuild compiles pkgDir into a static, stripped, reproducible binary.
func goBuild(pkgDir, out string, p platform, symbol, version string) error {
	pkg := pkgDir
	if !filepath.IsAbs(pkg) {
		pkg = "./" + filepath.ToSlash(pkg)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X "+symbol+"="+version,
		"-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.os, "GOARCH="+p.arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w", pkgDir, p, err)
	}
	return nil
}

func epochFromEnv() int64 {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return 0
}
