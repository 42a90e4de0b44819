package netnstest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// serveName answers every connection with name and the peer's address.
func serveName(ln net.Listener, name string) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, name+" "+c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String())
			c.Close()
		}
	}()
}

func ask(t *testing.T, dial func(context.Context) (*net.TCPConn, error)) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func rootLinks(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

func TestTopologyConnectsPodsAndGateway(t *testing.T) {
	netnstest.RequireRoot(t)
	before := rootLinks(t)
	t.Run("topology", func(t *testing.T) {
		topo := netnstest.New(t, netnstest.Options{Pods: 3})
		server, client := topo.Pods[0], topo.Pods[1]
		serveName(server.Listen(netip.AddrPortFrom(netip.Addr{}, 8080)), "server")

		for _, tc := range []struct {
			name string
			from *netns.NS
			dst  netip.AddrPort
			want string
		}{
			{"pod to pod v4", client.NS, server.AddrPort(8080), "server " + client.Addr.String()},
			{"pod to pod v6", client.NS, server.AddrPort6(8080), "server " + client.Addr6.String()},
			{"gateway to pod v4", topo.Fabric, server.AddrPort(8080), "server " + topo.Gateway.String()},
			{"gateway to pod v6", topo.Fabric, server.AddrPort6(8080), "server " + topo.Gateway6.String()},
			{"pod to itself", server.NS, server.AddrPort(8080), "server " + server.Addr.String()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := ask(t, func(ctx context.Context) (*net.TCPConn, error) {
					return tc.from.DialTCP(ctx, tc.dst, netns.DialOptions{})
				})
				if got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			})
		}

		t.Run("blackhole hangs", func(t *testing.T) {
			for _, a := range []netip.Addr{netnstest.Blackhole4, netnstest.Blackhole6} {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				start := time.Now()
				_, err := client.Dial(ctx, netip.AddrPortFrom(a, 80), netns.DialOptions{})
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 190*time.Millisecond {
					t.Fatalf("dial to %v: %v after %v, want a hang until the deadline", a, err, time.Since(start))
				}
			}
		})

		t.Run("process in pod", func(t *testing.T) {
			out, err := exec.Command("ip", "-br", "addr").Output()
			if err != nil {
				t.Skip("no ip binary:", err)
			}
			rootAddrs := string(out)
			cmd := exec.Command("ip", "-br", "addr", "show", "eth0")
			var sb strings.Builder
			cmd.Stdout = &sb
			if err := client.Start(cmd); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sb.String(), client.Addr.String()+"/") || strings.Contains(rootAddrs, client.Addr.String()+"/") {
				t.Fatalf("process in pod sees %q (root namespace: %q)", sb.String(), rootAddrs)
			}
		})
	})
	if after := rootLinks(t); !slices.Equal(before, after) {
		t.Fatalf("root namespace links changed: %v -> %v", before, after)
	}
}
