// Command hello is a tiny stand-in binary for the image tests: it builds in
// seconds and answers --version in the format of cmd/internal/buildinfo
// (which it cannot import: the package is internal to cmd/).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

// version is linked in by hack/images -version-symbol main.version.
var version = "v0.0.0-dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	showIDs := flag.Bool("ids", false, "print uid:gid and exit")
	flag.Parse()
	if *showIDs {
		fmt.Printf("%d:%d\n", os.Getuid(), os.Getgid())
		return
	}
	if *showVersion {
		fmt.Printf("hello %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	fmt.Println("hello from an image built by hack/images")
}
