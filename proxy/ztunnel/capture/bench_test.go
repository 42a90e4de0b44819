package capture_test

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// Capture setup is on the pod-start path (CNI ADD waits for it). Compare:
//
//	go test -run '^$' -bench . -benchtime 200x ./proxy/ztunnel/capture/
//
// BenchmarkPodNetworkBaseline is what the runtime and the primary CNI
// plugin do for every pod anyway (namespace, veth pair, address, route);
// BenchmarkInstall is what capture adds to it.

// podNetwork creates a namespace with loopback up and a veth pair with an
// address and a default route, all inside it.
func podNetwork(b *testing.B) *netns.NS {
	ns, err := netns.New()
	if err != nil {
		b.Fatal(err)
	}
	h, err := ns.NetlinkHandle()
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	lo, err := h.LinkByName("lo")
	must(err)
	must(h.LinkSetUp(lo))
	must(h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0"}))
	eth0, err := h.LinkByName("eth0")
	must(err)
	must(h.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 250, 0, 2), Mask: net.CIDRMask(24, 32)}}))
	must(h.LinkSetUp(eth0))
	peer, err := h.LinkByName("peer0")
	must(err)
	must(h.LinkSetUp(peer))
	must(h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IPv4(10, 250, 0, 1)}))
	return ns
}

func BenchmarkPodNetworkBaseline(b *testing.B) {
	netnstest.RequireRoot(b)
	for b.Loop() {
		podNetwork(b).Close()
	}
}

func BenchmarkInstall(b *testing.B) {
	netnstest.RequireRoot(b)
	cfg := capture.DefaultConfig()
	b.Run("new pod", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			ns := podNetwork(b)
			b.StartTimer()
			if err := capture.Install(ns, cfg); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			ns.Close()
			b.StartTimer()
		}
	})
	b.Run("again (adoption)", func(b *testing.B) {
		ns := podNetwork(b)
		defer ns.Close()
		for b.Loop() {
			if err := capture.Install(ns, cfg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("installed check", func(b *testing.B) {
		ns := podNetwork(b)
		defer ns.Close()
		if err := capture.Install(ns, cfg); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if ok, err := capture.Installed(ns); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
