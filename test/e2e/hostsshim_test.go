//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// hostsShim stands in for the cluster DNS the local cluster does not have
// (docs/e2e.md, "Why a hosts shim"). Waypoint pods built by the operator
// reach the mesh CA by its Service name, so while it runs it appends
// "<ClusterIP> <name>" lines to the /etc/hosts of every pod on the real node:
// the file the kubelet writes once per pod (<kubelet root>/pods/<uid>/etc-hosts,
// bind-mounted into the containers) and never rewrites. Go's resolver reads
// /etc/hosts before DNS. Only names we add are answered; nothing else changes.
//
// It is a test-harness workaround, not a fix: see the product and cluster
// changes proposed in docs/e2e.md.
type hostsShim struct {
	podsDir string
	lines   []byte
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	patched int
}

func startHostsShim(kubeletRoot string, names map[string]string) *hostsShim {
	var b bytes.Buffer
	b.WriteString("# added by the Wayfabric e2e hosts shim (no cluster DNS)\n")
	for name, ip := range names {
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	s := &hostsShim{podsDir: filepath.Join(kubeletRoot, "pods"), lines: b.Bytes(), stop: make(chan struct{})}
	s.wg.Add(1)
	go s.loop()
	return s
}

func (s *hostsShim) loop() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s.patchAll()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *hostsShim) patchAll() {
	files, _ := filepath.Glob(filepath.Join(s.podsDir, "*", "etc-hosts"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || bytes.Contains(b, s.lines) {
			continue
		}
		// Append in place: the containers see the same inode.
		h, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			continue
		}
		if _, err := h.Write(s.lines); err == nil {
			s.mu.Lock()
			s.patched++
			s.mu.Unlock()
		}
		h.Close()
	}
}

// Stop ends the shim and returns how many pod hosts files it patched.
func (s *hostsShim) Stop() int {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.patched
}
