package netns_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// fakeProc builds a /proc-shaped directory: <pid>/ns/net entries that are
// symlinks to the given paths.
func fakeProc(t *testing.T, entries map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, target := range entries {
		dir := filepath.Join(root, pid, "ns")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if target != "" {
			if err := os.Symlink(target, filepath.Join(dir, "net")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFindByAddr(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 3})
	p0, p1, p2 := topo.Pods[0], topo.Pods[1], topo.Pods[2]
	notNS := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notNS, nil, 0o644)
	proc := fakeProc(t, map[string]string{
		"10":   p0.NS.Path(),
		"11":   p1.NS.Path(),
		"12":   p1.NS.Path(),          // a second process in the same pod
		"13":   "/nonexistent/ns/net", // exited during the scan
		"14":   "",                    // no ns/net at all
		"self": p2.NS.Path(),          // not a pid: ignored
		"15":   topo.Fabric.Path(),
	})

	unknown := netip.MustParseAddr("10.99.0.1")
	found, err := netns.FindByAddr(proc, []netip.Addr{p1.Addr, p1.Addr6, p0.Addr, unknown})
	if err != nil {
		t.Fatalf("vanished processes are not errors: %v", err)
	}
	defer netns.CloseAll(found)
	if len(found) != 3 || found[p1.Addr] == nil || found[p1.Addr].ID() != p1.NS.ID() ||
		found[p1.Addr6] != found[p1.Addr] || found[p0.Addr] == nil || found[p0.Addr].ID() != p0.NS.ID() {
		t.Fatalf("found %v, want pod1 (twice) and pod0", found)
	}
	if _, ok := found[unknown]; ok {
		t.Fatal("found an address nobody has")
	}
	if ns, ok := found[p2.Addr]; ok {
		t.Fatalf("found %v under a non-pid entry", ns)
	}

	t.Run("the gateway's namespace", func(t *testing.T) {
		found, err := netns.FindByAddr(proc, []netip.Addr{topo.Gateway})
		if err != nil || found[topo.Gateway] == nil || found[topo.Gateway].ID() != topo.Fabric.ID() {
			t.Fatalf("got %v, %v", found, err)
		}
		netns.CloseAll(found)
	})

	t.Run("unreadable entries explain a miss", func(t *testing.T) {
		proc := fakeProc(t, map[string]string{"20": notNS, "21": p0.NS.Path()})
		found, err := netns.FindByAddr(proc, []netip.Addr{p0.Addr, p2.Addr})
		defer netns.CloseAll(found)
		if err == nil || !strings.Contains(err.Error(), "not a namespace file") || found[p0.Addr] == nil {
			t.Fatalf("got %v, %v; want pod0 found and an error naming the bad entry", found, err)
		}
	})

	t.Run("real /proc", func(t *testing.T) {
		sleeper := exec.Command("sleep", "60")
		if err := p2.Start(sleeper); err != nil {
			t.Skip("cannot start sleep:", err)
		}
		start := time.Now()
		found, err := netns.FindByAddr("/proc", []netip.Addr{p2.Addr6})
		t.Logf("scanned /proc in %v", time.Since(start))
		defer netns.CloseAll(found)
		if err != nil || found[p2.Addr6] == nil || found[p2.Addr6].ID() != p2.NS.ID() {
			t.Fatalf("got %v, %v; want pod2's namespace (pid %d)", found, err, sleeper.Process.Pid)
		}
		// The namespace found is usable: dial from it.
		ln := p0.Listen(p0.AddrPort(7100))
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}()
		c, err := found[p2.Addr6].DialTCP(context.Background(), p0.AddrPort(7100), netns.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}
