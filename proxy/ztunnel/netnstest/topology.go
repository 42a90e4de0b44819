// Package netnstest builds test network topologies out of network
// namespaces: a "fabric" namespace with a bridge and a gateway address, and
// "pods", each a namespace with a veth into the bridge, an address in a
// private test subnet (IPv4 and IPv6) and default routes via the gateway.
//
// Everything lives in namespaces this package creates and removes again in
// t.Cleanup; the caller's own namespace is never changed. Tests need root
// (CAP_SYS_ADMIN and CAP_NET_ADMIN) and are skipped without it.
//
// The gateway plays the node (kubelet probes come from it). It does not
// forward: packets to addresses outside the subnet (Blackhole) are dropped
// without an answer.
package netnstest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// Default test subnets: unlikely to meet a real network (the local cluster
// uses 10.247-10.249), and private to the fabric namespace anyway.
var (
	DefaultSubnet4 = netip.MustParsePrefix("10.250.0.0/24")
	DefaultSubnet6 = netip.MustParsePrefix("fd0a:fa00::/64")
)

// Blackhole addresses are routed to the gateway, which drops them silently:
// a connect to them hangs until its context ends.
var (
	Blackhole4 = netip.MustParseAddr("198.51.100.1")
	Blackhole6 = netip.MustParseAddr("2001:db8::1")

	blackhole4Net = netip.MustParsePrefix("198.51.100.0/24")
	blackhole6Net = netip.MustParsePrefix("2001:db8::/32")
)

const bridgeName = "wfbr0"

// Options shape a Topology. The zero value gives DefaultSubnet4 and
// DefaultSubnet6 and no pods.
type Options struct {
	Pods    int          // pods created by New, named pod0, pod1, ...
	Subnet4 netip.Prefix // zero: DefaultSubnet4
	Subnet6 netip.Prefix // zero: DefaultSubnet6
	NoIPv6  bool         // IPv4 only
}

// Topology is a fabric namespace with a bridge and the pods attached to it.
type Topology struct {
	Fabric            *netns.NS  // holds the bridge and the gateway addresses
	Gateway, Gateway6 netip.Addr // the fabric's addresses on the bridge (Gateway6 invalid with NoIPv6)
	Subnet4, Subnet6  netip.Prefix
	Pods              []*Pod

	t    testing.TB
	o    Options
	next netip.Addr // next pod IPv4 address
}

// RequireRoot skips t unless the process may create network namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces; run as root, as make test does in CI")
	}
}

// New builds a fabric and o.Pods pods. It skips t without root and fails t
// on any error; everything is torn down in t.Cleanup.
func New(t testing.TB, o Options) *Topology {
	t.Helper()
	RequireRoot(t)
	if !o.Subnet4.IsValid() {
		o.Subnet4 = DefaultSubnet4
	}
	if !o.Subnet6.IsValid() && !o.NoIPv6 {
		o.Subnet6 = DefaultSubnet6
	}
	if !o.Subnet4.Addr().Is4() || o.Subnet4.Bits() > 29 || (!o.NoIPv6 && (o.Subnet6.Addr().Is4() || o.Subnet6.Bits() > 120)) {
		t.Fatalf("netnstest: subnets %v / %v: need an IPv4 prefix of at most /29 and an IPv6 prefix of at most /120", o.Subnet4, o.Subnet6)
	}
	topo := &Topology{t: t, o: o, Subnet4: o.Subnet4.Masked(), Subnet6: o.Subnet6.Masked()}
	topo.Gateway = topo.Subnet4.Addr().Next()
	topo.next = topo.Gateway.Next()
	if !o.NoIPv6 {
		topo.Gateway6 = topo.Subnet6.Addr().Next()
	}
	fabric, err := netns.New()
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	t.Cleanup(func() { fabric.Close() })
	topo.Fabric = fabric
	if err := topo.setupFabric(); err != nil {
		t.Fatalf("netnstest: fabric: %v", err)
	}
	for i := range o.Pods {
		topo.AddPod(fmt.Sprintf("pod%d", i))
	}
	return topo
}

func (topo *Topology) setupFabric() error {
	if err := setSysctls(topo.Fabric, map[string]string{
		// The gateway is a host, not a router: nothing is forwarded
		// (a new namespace inherits the root namespace's IPv4 settings).
		"net/ipv4/conf/all/forwarding":     "0",
		"net/ipv6/conf/all/forwarding":     "0",
		"net/ipv6/conf/default/accept_dad": "0",
	}); err != nil {
		return err
	}
	h, err := topo.Fabric.NetlinkHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := linkUp(h, "lo"); err != nil {
		return err
	}
	off := false
	// Without snooping the bridge floods multicast, so neighbour discovery
	// never depends on MLD state.
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}, MulticastSnooping: &off}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("add bridge: %w", err)
	}
	if err := addAddr(h, bridgeName, netip.PrefixFrom(topo.Gateway, topo.Subnet4.Bits())); err != nil {
		return err
	}
	if topo.Gateway6.IsValid() {
		if err := addAddr(h, bridgeName, netip.PrefixFrom(topo.Gateway6, topo.Subnet6.Bits())); err != nil {
			return err
		}
	}
	if err := linkUp(h, bridgeName); err != nil {
		return err
	}
	// Blackhole routes drop without an ICMP error (IPv6 would otherwise
	// answer "no route" at once).
	for _, p := range []netip.Prefix{blackhole4Net, blackhole6Net} {
		r := &netlink.Route{Dst: ipNet(p), Type: unix.RTN_BLACKHOLE}
		if p.Addr().Is6() {
			r.Family = netlink.FAMILY_V6
		}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("blackhole route %v: %w", p, err)
		}
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Blackhole is an address of the same family as a that the gateway drops.
func Blackhole(a netip.Addr) netip.Addr {
	if a.Is4() {
		return Blackhole4
	}
	return Blackhole6
}

func linkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

func addAddr(h *netlink.Handle, link string, p netip.Prefix) error {
	l, err := h.LinkByName(link)
	if err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD // usable at once
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("add %v to %s: %w", p, link, err)
	}
	return nil
}

// setSysctls writes /proc/sys entries as seen from inside ns: /proc/sys/net
// belongs to the namespace of the thread that opens it.
func setSysctls(ns *netns.NS, kv map[string]string) error {
	return ns.Do(func() error {
		for k, v := range kv {
			if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
			}
		}
		return nil
	})
}
