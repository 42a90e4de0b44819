// Package buildinfo carries the release version stamped into every Wayfabric
// binary at link time, and the shared --version behaviour.
package buildinfo

import (
	"fmt"
	"io"
	"runtime"
)

// Version is set with -ldflags "-X github.com/wayfabric/wayfabric/cmd/internal/buildinfo.Version=vX.Y.Z".
var Version = "v0.0.0-dev"

// String is the one-line description printed by `<binary> --version`.
func String(binary string) string {
	return fmt.Sprintf("%s %s (%s, %s/%s)", binary, Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// Print writes the version line for binary to w.
func Print(w io.Writer, binary string) {
	fmt.Fprintln(w, String(binary))
}
