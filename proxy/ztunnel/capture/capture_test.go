package capture_test

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// TestCaptureRedirects checks where connections land with capture installed
// in two pods ("client" and "server"); a third pod ("other") is not
// captured and is an excluded destination.
func TestCaptureRedirects(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 3})
	client, server, other := topo.Pods[0], topo.Pods[1], topo.Pods[2]
	cfg := testConfig(topo)
	cfg.ExcludeInboundPorts = []uint16{9090}
	cfg.ExcludeOutboundPorts = []uint16{9091}
	// Ranges, not just hosts: the gateway's /31 and /127 (the pods stay
	// outside), and ranges reaching the top of the address space.
	cfg.ExemptSources = []netip.Prefix{netip.PrefixFrom(topo.Gateway, 31).Masked(), netip.PrefixFrom(topo.Gateway6, 127).Masked()}
	cfg.ExcludeOutboundCIDRs = []netip.Prefix{netip.PrefixFrom(other.Addr, 32), netip.PrefixFrom(other.Addr6, 128),
		netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("ff00::/8")}
	install(t, client.NS, cfg)
	install(t, server.NS, cfg)

	// ztunnel's listeners, as the lead's ztunnel binds them.
	for _, lo := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
		serve(t, client.NS, netip.AddrPortFrom(lo, cfg.OutboundPort), "outbound", true)
		serve(t, server.NS, netip.AddrPortFrom(lo, cfg.OutboundPort), "outbound", true)
	}
	serve(t, server.NS, anyAddr(cfg.InboundPort), "inbound", true)
	serve(t, server.NS, anyAddr(cfg.HBONEPort), "hbone", false)
	// Applications.
	serve(t, client.NS, anyAddr(8080), "client-app", false)
	for _, port := range []uint16{8080, 9090, 9091} {
		serve(t, server.NS, anyAddr(port), fmt.Sprintf("app%d", port), false)
		serve(t, other.NS, anyAddr(port), fmt.Sprintf("other%d", port), false)
	}
	bypass := netns.DialOptions{Mark: cfg.BypassMark}

	for _, f := range families {
		c, s, o, gw := f.addr(client, 0).Addr(), f.addr(server, 0).Addr(), f.addr(other, 0).Addr(), f.gw(topo)
		for _, tc := range []struct {
			name string
			from *netns.NS
			dst  netip.AddrPort
			o    netns.DialOptions
			want string
		}{
			{"outbound is captured with its original destination", client.NS, f.addr(server, 8080), netns.DialOptions{},
				fmt.Sprintf("outbound %s %s", c, f.addr(server, 8080))},
			{"outbound to the node is captured too", client.NS, netip.AddrPortFrom(gw, 80), netns.DialOptions{},
				fmt.Sprintf("outbound %s %s", c, netip.AddrPortFrom(gw, 80))},
			{"inbound is captured with its original destination", client.NS, f.addr(server, 8080), bypass,
				fmt.Sprintf("inbound %s %s", c, f.addr(server, 8080))},
			{"inbound from an uncaptured pod is captured", other.NS, f.addr(server, 8080), netns.DialOptions{},
				fmt.Sprintf("inbound %s %s", o, f.addr(server, 8080))},
			{"inbound HBONE goes to ztunnel's HBONE listener", client.NS, f.addr(server, cfg.HBONEPort), bypass,
				fmt.Sprintf("hbone %s -", c)},
			{"the node (kubelet) reaches the application", topo.Fabric, f.addr(server, 8080), netns.DialOptions{},
				fmt.Sprintf("app8080 %s -", gw)},
			{"excluded inbound port reaches the application", client.NS, f.addr(server, 9090), bypass,
				fmt.Sprintf("app9090 %s -", c)},
			{"excluded outbound port is not captured", client.NS, f.addr(other, 9091), netns.DialOptions{},
				fmt.Sprintf("other9091 %s -", c)},
			{"excluded outbound CIDR is not captured", client.NS, f.addr(other, 8080), netns.DialOptions{},
				fmt.Sprintf("other8080 %s -", c)},
			{"bypass mark is not captured outbound", server.NS, f.addr(other, 8080), bypass,
				fmt.Sprintf("other8080 %s -", s)},
			{"pod to its own address stays local", client.NS, f.addr(client, 8080), netns.DialOptions{},
				fmt.Sprintf("client-app %s -", c)},
			{"pod to loopback stays local", client.NS, netip.AddrPortFrom(f.lo, 8080), netns.DialOptions{},
				fmt.Sprintf("client-app %s -", f.lo)},
			{"a pod dialling the outbound listener itself is seen as not redirected", client.NS, netip.AddrPortFrom(f.lo, cfg.OutboundPort), netns.DialOptions{},
				fmt.Sprintf("outbound %s error:original destination of %s: connection was not redirected", f.lo, netip.AddrPortFrom(f.lo, cfg.OutboundPort))},
			{"outbound port from a peer is refused", client.NS, f.addr(server, cfg.OutboundPort), bypass, "refused"},
			{"inbound port from a peer is refused", client.NS, f.addr(server, cfg.InboundPort), bypass, "refused"},
			{"outbound port from the node is refused", topo.Fabric, f.addr(server, cfg.OutboundPort), netns.DialOptions{}, "refused"},
			{"inbound port from the node is refused", topo.Fabric, f.addr(server, cfg.InboundPort), netns.DialOptions{}, "refused"},
			{"an uncaptured pod is unaffected", other.NS, f.addr(other, 8080), netns.DialOptions{},
				fmt.Sprintf("other8080 %s -", o)},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				if got := ask(t, tc.from, tc.dst, tc.o); got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		}
	}

	t.Run("UDP is not captured", func(t *testing.T) {
		var pc net.PacketConn
		if err := server.Do(func() (err error) { pc, err = net.ListenPacket("udp4", ":5353"); return err }); err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		var cc net.Conn
		if err := client.Do(func() (err error) { cc, err = net.Dial("udp4", server.AddrPort(5353).String()); return err }); err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		if _, err := cc.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 16)
		n, from, err := pc.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "ping" || from.(*net.UDPAddr).AddrPort().Addr() != client.Addr {
			t.Fatalf("got %q from %v, err %v", buf[:n], from, err)
		}
	})
}

// TestFailClosed: with the rules in place and no ztunnel listening,
// captured connections are refused; the node still reaches the
// application; once a ztunnel listens again, capture resumes.
func TestFailClosed(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2})
	client, server := topo.Pods[0], topo.Pods[1]
	cfg := testConfig(topo)
	install(t, client.NS, cfg)
	install(t, server.NS, cfg)
	serve(t, server.NS, anyAddr(8080), "app", false)
	bypass := netns.DialOptions{Mark: cfg.BypassMark}

	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			if got := ask(t, client.NS, f.addr(server, 8080), netns.DialOptions{}); got != "refused" {
				t.Errorf("outbound without ztunnel: got %q, want refused", got)
			}
			if got := ask(t, client.NS, f.addr(server, 8080), bypass); got != "refused" {
				t.Errorf("inbound without ztunnel: got %q, want refused", got)
			}
			if got, want := ask(t, topo.Fabric, f.addr(server, 8080), netns.DialOptions{}), fmt.Sprintf("app %s -", f.gw(topo)); got != want {
				t.Errorf("node to application without ztunnel: got %q, want %q", got, want)
			}
		})
	}

	t.Run("a new ztunnel adopts the pod", func(t *testing.T) {
		ok, err := capture.Installed(client.NS)
		if err != nil || !ok {
			t.Fatalf("Installed = %v, %v; want true", ok, err)
		}
		ln := serve(t, client.NS, netip.MustParseAddrPort("127.0.0.1:15001"), "outbound", true)
		want := fmt.Sprintf("outbound %s %s", client.Addr, server.AddrPort(8080))
		if got := ask(t, client.NS, server.AddrPort(8080), netns.DialOptions{}); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		ln.Close()
		if got := ask(t, client.NS, server.AddrPort(8080), netns.DialOptions{}); got != "refused" {
			t.Errorf("after the listener closed: got %q, want refused", got)
		}
	})
}
