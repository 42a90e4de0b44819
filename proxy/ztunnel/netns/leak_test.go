package netns_test

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestNoFDLeaks runs every operation, successful and failing, many times
// and checks that the process holds no more descriptors afterwards.
func TestNoFDLeaks(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2})
	server, client := topo.Pods[0], topo.Pods[1]
	acceptPeers(server.Listen(server.AddrPort(7000)))
	proc := fakeProc(t, map[string]string{"1": server.NS.Path(), "2": client.NS.Path(), "3": topo.Fabric.Path()})
	notNS, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	notNSPath := notNS.Name()
	notNS.Close()

	ops := map[string]func(t *testing.T){
		"open/close": func(t *testing.T) {
			ns, err := netns.Open(server.NS.Path())
			if err != nil {
				t.Fatal(err)
			}
			ns.Close()
		},
		"open a non-namespace": func(t *testing.T) {
			if _, err := netns.Open(notNSPath); err == nil {
				t.Fatal("opened a regular file as a namespace")
			}
		},
		"new": func(t *testing.T) {
			ns, err := netns.New()
			if err != nil {
				t.Fatal(err)
			}
			ns.Close()
		},
		"do": func(t *testing.T) {
			if err := server.NS.Do(func() error { return nil }); err != nil {
				t.Fatal(err)
			}
		},
		"listen": func(t *testing.T) {
			ln, err := server.NS.ListenTCP(server.AddrPort(0), netns.ListenOptions{ReusePort: true})
			if err != nil {
				t.Fatal(err)
			}
			ln.Close()
		},
		"dial": func(t *testing.T) {
			c, err := client.Dial(context.Background(), server.AddrPort(7000), netns.DialOptions{Mark: 1})
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, c) // until the server closed its end: its descriptor is ours too
			c.Close()
		},
		"dial refused": func(t *testing.T) {
			if _, err := client.Dial(context.Background(), server.AddrPort(7999), netns.DialOptions{}); err == nil {
				t.Fatal("dial to a closed port worked")
			}
		},
		"dial bind error": func(t *testing.T) {
			if _, err := client.Dial(context.Background(), server.AddrPort(7000), netns.DialOptions{Source: netip.MustParseAddrPort("192.0.2.9:1")}); err == nil {
				t.Fatal("bound a non-local address")
			}
		},
		"dial cancelled": func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			defer cancel()
			if _, err := client.Dial(ctx, netip.AddrPortFrom(netnstest.Blackhole4, 80), netns.DialOptions{}); err == nil {
				t.Fatal("dial to the blackhole worked")
			}
		},
		"find": func(t *testing.T) {
			found, err := netns.FindByAddr(proc, []netip.Addr{client.Addr, netip.MustParseAddr("10.99.0.1")})
			if err != nil || len(found) != 1 {
				t.Fatalf("found %v, %v", found, err)
			}
			netns.CloseAll(found)
		},
		"netlink handle": func(t *testing.T) {
			h, err := client.NS.NetlinkHandle()
			if err != nil {
				t.Fatal(err)
			}
			h.Close()
		},
	}
	for name, op := range ops {
		op(t) // warm up: lazily opened runtime descriptors are not leaks
		before := openFDs(t)
		for range 30 {
			op(t)
		}
		// Descriptors of the test's own server close asynchronously.
		after := openFDs(t)
		for deadline := time.Now().Add(2 * time.Second); after > before && time.Now().Before(deadline); after = openFDs(t) {
			time.Sleep(10 * time.Millisecond)
		}
		if after > before {
			t.Errorf("%s: %d descriptors before 30 runs, %d after", name, before, after)
		}
	}
}
