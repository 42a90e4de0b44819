// Command coredns is the local cluster's DNS: CoreDNS built with only the
// plugins a cluster-internal resolver needs (kubernetes, cache, health,
// ready, errors, loadbalance). No forward plugin: names outside the cluster
// domain are never resolved, so no query leaves this machine.
//
// It is its own Go module so CoreDNS's dependency graph never touches
// Wayfabric's go.mod.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order is the chain order, as in CoreDNS's plugin.cfg: cache must run
// before kubernetes to answer from it.
func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "loadbalance", "cache", "kubernetes"}
}

func main() { coremain.Run() }
