package ztunnel

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
)

// Shutdown stops the node proxy. Every pod stops accepting at once (after
// a handover the successor accepts instead; otherwise new connections are
// refused right away rather than accepted and cut), open connections get
// until drain to finish, and what is left is closed cleanly. With
// removeRules (the ZtunnelConfig is gone: the mesh is being removed from
// the node) each pod's rules are removed first, so it goes back to plain
// networking instead of failing closed.
func (n *Node) Shutdown(drain time.Duration, removeRules bool) {
	n.stopping.Store(true)
	n.mu.Lock()
	pods := make([]*podProxy, 0, len(n.pods))
	for uid, p := range n.pods {
		pods = append(pods, p)
		delete(n.pods, uid)
	}
	n.mu.Unlock()
	n.cfg.Metrics.captured.Set(0)
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if removeRules {
				if err := capture.Remove(p.ns); err != nil {
					p.log.Error(err, "removing capture rules at shutdown")
				}
			}
			p.stop(drain)
		}()
	}
	wg.Wait()
	n.cfg.Log.Info("node proxy stopped", "pods", len(pods), "rulesRemoved", removeRules)
}

// OpenConnections counts connections still open on every pod.
func (n *Node) OpenConnections() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	total := 0
	for _, p := range n.pods {
		total += p.openConns()
	}
	return total
}

// dupFile duplicates f's descriptor (close-on-exec) into a new *os.File.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
