package capture_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// anyAddr listens dual-stack on port.
func anyAddr(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.Addr{}, port) }

// serve answers each connection with one line "<name> <peer ip> <original
// destination or ->" and then echoes what it reads. Listeners of ztunnel's
// capture ports report SO_ORIGINAL_DST, applications report "-".
func serve(t *testing.T, ns *netns.NS, addr netip.AddrPort, name string, origDst bool) *net.TCPListener {
	t.Helper()
	ln, err := ns.ListenTCP(addr, netns.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				od := "-"
				if origDst {
					if d, err := netns.OriginalDst(c); err != nil {
						od = "error:" + err.Error()
					} else {
						od = d.String()
					}
				}
				peer := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
				fmt.Fprintf(c, "%s %s %s\n", name, peer, od)
				io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// ask connects from ns to dst and returns the server's line ("refused" if
// the connection was refused or reset before it).
func ask(t *testing.T, ns *netns.NS, dst netip.AddrPort, o netns.DialOptions) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ns.DialTCP(ctx, dst, o)
	if err != nil {
		if isRefused(err) {
			return "refused"
		}
		t.Fatalf("dial %v: %v", dst, err)
	}
	defer c.Close()
	return readLine(t, c)
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		if isRefused(err) || errors.Is(err, io.EOF) {
			return "refused"
		}
		t.Fatalf("read from %v: %v", c.RemoteAddr(), err)
	}
	return strings.TrimSuffix(line, "\n")
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

func install(t *testing.T, ns *netns.NS, cfg capture.Config) {
	t.Helper()
	if err := capture.Install(ns, cfg); err != nil {
		t.Fatal(err)
	}
}

func dump(t *testing.T, ns *netns.NS) string {
	t.Helper()
	d, err := capture.Dump(ns, capture.DefaultConfig().TransparentMark)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testConfig exempts the topology's gateway, like a node's addresses.
func testConfig(topo *netnstest.Topology) capture.Config {
	cfg := capture.DefaultConfig()
	cfg.ExemptSources = []netip.Prefix{netip.PrefixFrom(topo.Gateway, 32), netip.PrefixFrom(topo.Gateway6, 128)}
	return cfg
}

// family runs f for IPv4 and IPv6 addresses of the pods.
type family struct {
	name string
	addr func(p *netnstest.Pod, port uint16) netip.AddrPort
	gw   func(topo *netnstest.Topology) netip.Addr
	lo   netip.Addr
	bits int
}

var families = []family{
	{"v4", (*netnstest.Pod).AddrPort, func(t *netnstest.Topology) netip.Addr { return t.Gateway }, netip.MustParseAddr("127.0.0.1"), 32},
	{"v6", (*netnstest.Pod).AddrPort6, func(t *netnstest.Topology) netip.Addr { return t.Gateway6 }, netip.IPv6Loopback(), 128},
}
