package netnstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// Pod is a network namespace attached to the fabric: eth0 with Addr (and
// Addr6) and default routes via the gateway, plus loopback.
type Pod struct {
	Name        string
	NS          *netns.NS
	Addr, Addr6 netip.Addr // Addr6 is invalid with Options.NoIPv6
	Veth        string     // the pod's veth in the fabric namespace

	topo *Topology
}

// AddPod creates one more pod; it fails the test on error.
func (topo *Topology) AddPod(name string) *Pod {
	t := topo.t
	t.Helper()
	if !topo.Subnet4.Contains(topo.next) || topo.next == lastAddr(topo.Subnet4) {
		t.Fatalf("netnstest: subnet %v is full", topo.Subnet4)
	}
	p := &Pod{Name: name, Addr: topo.next, Veth: fmt.Sprintf("wfv%d", len(topo.Pods)), topo: topo}
	if topo.Gateway6.IsValid() {
		// Same host part as the IPv4 address: pod .5 is also ::5.
		p.Addr6 = addHost(topo.Subnet6.Addr(), u32(topo.next)-u32(topo.Subnet4.Addr()))
		if !topo.Subnet6.Contains(p.Addr6) {
			t.Fatalf("netnstest: subnet %v is full", topo.Subnet6)
		}
	}
	topo.next = topo.next.Next()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("netnstest: pod %s: %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	p.NS = ns
	if err := p.setup(); err != nil {
		t.Fatalf("netnstest: pod %s: %v", name, err)
	}
	topo.Pods = append(topo.Pods, p)
	return p
}

func (p *Pod) setup() error {
	topo := p.topo
	if err := setSysctls(p.NS, map[string]string{"net/ipv6/conf/default/accept_dad": "0"}); err != nil {
		return err
	}
	fh, err := topo.Fabric.NetlinkHandle()
	if err != nil {
		return err
	}
	defer fh.Close()
	br, err := fh.LinkByName(bridgeName)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: p.Veth, MasterIndex: br.Attrs().Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(p.NS.Fd()), // created directly in the pod
	}
	if err := fh.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s: %w", p.Veth, err)
	}
	if err := linkUp(fh, p.Veth); err != nil {
		return err
	}

	h, err := p.NS.NetlinkHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := linkUp(h, "lo"); err != nil {
		return err
	}
	if err := addAddr(h, "eth0", netip.PrefixFrom(p.Addr, topo.Subnet4.Bits())); err != nil {
		return err
	}
	if p.Addr6.IsValid() {
		if err := addAddr(h, "eth0", netip.PrefixFrom(p.Addr6, topo.Subnet6.Bits())); err != nil {
			return err
		}
	}
	if err := linkUp(h, "eth0"); err != nil {
		return err
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	gws := []netip.Addr{topo.Gateway}
	if topo.Gateway6.IsValid() {
		gws = append(gws, topo.Gateway6)
	}
	for _, gw := range gws {
		r := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.AsSlice()}
		if gw.Is6() {
			r.Family = netlink.FAMILY_V6
		}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("default route via %v: %w", gw, err)
		}
	}
	return nil
}

// AddrPort is the pod's IPv4 address with port.
func (p *Pod) AddrPort(port uint16) netip.AddrPort { return netip.AddrPortFrom(p.Addr, port) }

// AddrPort6 is the pod's IPv6 address with port.
func (p *Pod) AddrPort6(port uint16) netip.AddrPort { return netip.AddrPortFrom(p.Addr6, port) }

// Do runs fn inside the pod's namespace (see netns.NS.Do).
func (p *Pod) Do(fn func() error) error { return p.NS.Do(fn) }

// Listen opens a TCP listener in the pod (dual-stack for the zero
// address, see netns.NS.ListenTCP), closed in t.Cleanup; it fails the test
// on error.
func (p *Pod) Listen(addr netip.AddrPort) *net.TCPListener {
	t := p.topo.t
	t.Helper()
	ln, err := p.NS.ListenTCP(addr, netns.ListenOptions{})
	if err != nil {
		t.Fatalf("netnstest: pod %s: %v", p.Name, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Dial connects from inside the pod.
func (p *Pod) Dial(ctx context.Context, dst netip.AddrPort, o netns.DialOptions) (*net.TCPConn, error) {
	return p.NS.DialTCP(ctx, dst, o)
}

// Sysctl writes /proc/sys/<name> inside the pod, e.g.
// Sysctl("net/ipv4/conf/all/rp_filter", "1").
func (p *Pod) Sysctl(name, value string) error {
	return setSysctls(p.NS, map[string]string{name: value})
}

// Start starts cmd as a process inside the pod's network namespace (only
// the network namespace: it shares the test's filesystem). It is killed
// and reaped in t.Cleanup if still running.
func (p *Pod) Start(cmd *exec.Cmd) error {
	// The child is forked from this locked thread and inherits its
	// namespace.
	if err := p.NS.Do(cmd.Start); err != nil {
		return fmt.Errorf("pod %s: start %s: %w", p.Name, cmd.Path, err)
	}
	p.topo.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	return addHost(p.Masked().Addr(), uint32(1)<<(32-p.Bits())-1)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// addHost adds n to the address a (IPv4 or IPv6), carrying across bytes.
func addHost(a netip.Addr, n uint32) netip.Addr {
	b := a.AsSlice()
	carry := uint64(n)
	for i := len(b) - 1; i >= 0 && carry > 0; i-- {
		v := uint64(b[i]) + carry&0xff
		b[i] = byte(v)
		carry = carry>>8 + v>>8
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}
