package ztunnel

import (
	"bytes"
	"context"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/nodeconfig"
)

// liveConfig is the node configuration in force; a reload that fails to
// parse or validate keeps the last good one (and says so in the log).
type liveConfig struct {
	mu  sync.Mutex
	cfg nodeconfig.Config
}

func newLiveConfig(c nodeconfig.Config) *liveConfig { return &liveConfig{cfg: c} }

func (l *liveConfig) get() nodeconfig.Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

func (l *liveConfig) set(c nodeconfig.Config) {
	l.mu.Lock()
	l.cfg = c
	l.mu.Unlock()
}

func (l *liveConfig) excluded() []string { return l.get().ExcludedNamespaces }

// SetLogLevel, if set, applies the configuration's log level.
var SetLogLevel func(level string)

// reloadInterval: a ConfigMap volume is updated by swapping a symlink,
// which file watches miss easily; polling the content is reliable and cheap.
const reloadInterval = 2 * time.Second

// reloadLoop applies config.yaml changes without a restart: log level,
// excluded namespaces (pods there are released), capture exclusions (every
// pod's rules are re-installed) and the drain time. The CA address and the
// trust domain need a restart (a rollout), as they change identities.
func (a *Agent) reloadLoop(ctx context.Context, live *liveConfig, node *Node, w *discovery.Watcher) {
	last, _ := os.ReadFile(a.ConfigFile)
	t := time.NewTicker(reloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		raw, err := os.ReadFile(a.ConfigFile)
		if err != nil || bytes.Equal(raw, last) {
			continue
		}
		last = raw
		cfg, err := nodeconfig.Load(a.ConfigFile)
		if err != nil {
			a.Log.Error(err, "new configuration rejected; the last good one stays in force")
			continue
		}
		old := live.get()
		live.set(cfg)
		if cfg.LogLevel != old.LogLevel && SetLogLevel != nil {
			SetLogLevel(cfg.LogLevel)
		}
		if cfg.CAAddress != old.CAAddress || cfg.TrustDomain != old.TrustDomain {
			a.Log.Info("caAddress or trustDomain changed; they apply when the ztunnel restarts (the operator rolls it)")
		}
		if !slices.Equal(cfg.ExcludedNamespaces, old.ExcludedNamespaces) {
			w.Poke()
		}
		node.UpdateCapture(captureConfig(cfg, a.NodeAddrs))
		a.Log.Info("configuration reloaded", "logLevel", cfg.LogLevel, "excludedNamespaces", cfg.ExcludedNamespaces)
	}
}
