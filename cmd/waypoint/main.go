// Command waypoint is Wayfabric's L7 proxy: it terminates HBONE from
// ztunnels, applies HTTPRoutes and forwards to endpoints, reports load on
// :15020 and readiness on :15021, and drains on SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/wayfabric/wayfabric/cmd/internal/buildinfo"
	"github.com/wayfabric/wayfabric/proxy/waypoint"
)

func main() {
	o := options{}
	fs := flag.NewFlagSet("waypoint", flag.ExitOnError)
	o.register(fs)
	version := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(os.Args[1:])
	if *version {
		buildinfo.Print(os.Stdout, "waypoint")
		return
	}
	log := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{Verbosity: o.verbosity})
	if err := o.validate(); err != nil {
		log.Error(err, "invalid flags")
		os.Exit(2)
	}
	setGCPercent()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	start := time.Now()
	if err := waypoint.Run(ctx, o.runOptions(), log); err != nil {
		log.Error(err, "waypoint failed")
		os.Exit(1)
	}
	log.Info("waypoint exited", "uptime", time.Since(start).Round(time.Millisecond).String())
}

// defaultGCPercent is the waypoint's GOGC unless the environment sets one.
// Nearly all of a proxy's allocations are per-request garbage; at 200 the
// collector runs half as often as at Go's default 100, which measured 2–11 %
// less CPU per request for about 4 MB more peak RSS (docs/perf-waypoint.md).
// A GOMEMLIMIT, if set, still bounds the heap.
const defaultGCPercent = 200

func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
