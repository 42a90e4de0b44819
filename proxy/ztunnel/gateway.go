package ztunnel

import (
	"net/netip"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// gatewayPrefixes returns the gateways of a pod's default routes as host
// prefixes. On bridge networks the node reaches its pods from the
// gateway's address, so kubelet probes come from there.
func gatewayPrefixes(ns *netns.NS) []netip.Prefix {
	h, err := netlink.NewHandleAt(vnetns.NsHandle(ns.Fd()))
	if err != nil {
		return nil
	}
	defer h.Close()
	var out []netip.Prefix
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, family)
		if err != nil {
			continue
		}
		for _, r := range routes {
			if r.Gw == nil {
				continue
			}
			if a, ok := netip.AddrFromSlice(r.Gw); ok {
				a = a.Unmap()
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	return out
}
