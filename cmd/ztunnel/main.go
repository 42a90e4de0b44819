// Command ztunnel is Wayfabric's node proxy: it captures the TCP traffic of
// the node's enrolled pods inside their network namespaces and carries it
// over HBONE with their SPIFFE identities (docs/ztunnel.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wayfabric/wayfabric/cmd/internal/buildinfo"
	"github.com/wayfabric/wayfabric/proxy/ztunnel"
)

func main() {
	var o options
	fs := flag.NewFlagSet("ztunnel", flag.ExitOnError)
	o.register(fs)
	version := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(os.Args[1:])
	if *version {
		buildinfo.Print(os.Stdout, "ztunnel")
		return
	}
	log, setLevel := newLogger(o.logLevel)
	ztunnel.SetLogLevel = setLevel
	if err := o.validate(); err != nil {
		log.Error(err, "invalid flags")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := o.agent(log)
	if err != nil {
		log.Error(err, "ztunnel cannot start")
		os.Exit(1)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Registry = reg
	a.Version = buildinfo.Version
	start := time.Now()
	log.Info("ztunnel starting", "version", buildinfo.Version, "node", o.nodeName)
	if err := a.Run(ctx); err != nil {
		log.Error(err, "ztunnel failed")
		os.Exit(1)
	}
	log.Info("ztunnel exited", "uptime", time.Since(start).Round(time.Millisecond).String())
}

func parseAddrs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("node address %q: %w", f, err)
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}
