package netns_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// go test -run '^$' -bench . ./proxy/ztunnel/netns/
//
// DialTCP into a pod namespace against a plain net.Dialer in the caller's
// own namespace, both to a loopback listener: the difference is the cost
// of entering the namespace (a locked thread and two setns per dial).

func drain(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func BenchmarkDial(b *testing.B) {
	netnstest.RequireRoot(b)
	b.Run("net.Dialer baseline", func(b *testing.B) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		drain(ln)
		var d net.Dialer
		for b.Loop() {
			c, err := d.DialContext(context.Background(), "tcp4", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("netns.DialTCP", func(b *testing.B) {
		ns, err := netns.New()
		if err != nil {
			b.Fatal(err)
		}
		defer ns.Close()
		h, err := ns.NetlinkHandle()
		if err != nil {
			b.Fatal(err)
		}
		lo, _ := h.LinkByName("lo")
		h.LinkSetUp(lo)
		h.Close()
		ln, err := ns.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"), netns.ListenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		drain(ln)
		dst := ln.Addr().(*net.TCPAddr).AddrPort()
		for b.Loop() {
			c, err := ns.DialTCP(context.Background(), dst, netns.DialOptions{Mark: 0x539})
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("Do", func(b *testing.B) {
		ns, err := netns.New()
		if err != nil {
			b.Fatal(err)
		}
		defer ns.Close()
		for b.Loop() {
			if err := ns.Do(func() error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
