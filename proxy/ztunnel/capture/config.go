// Package capture installs ztunnel's traffic capture inside one pod network
// namespace: an nftables table that redirects the pod's TCP to ztunnel's
// listeners in the same namespace, and the policy routing that lets ztunnel
// deliver inbound connections to the application with the original
// client's address. The rules and the reason for each are in
// docs/ztunnel.md ("Capture rules").
//
// Everything is done through netlink sockets opened in the pod namespace
// (google/nftables, vishvananda/netlink); no nft or iptables binary.
package capture

import (
	"errors"
	"fmt"
	"net/netip"
)

// Config is what Install puts into a pod namespace.
type Config struct {
	OutboundPort uint16 // captured outbound: redirected to 127.0.0.1/[::1]:OutboundPort
	InboundPort  uint16 // captured inbound plaintext: redirected to <pod ip>:InboundPort
	HBONEPort    uint16 // inbound HBONE: never redirected, ztunnel serves it directly

	BypassMark      uint32 // SO_MARK of ztunnel's own sockets: never captured
	TransparentMark uint32 // SO_MARK of ztunnel's transparent connections to the application
	RouteTable      int    // routing table sending TransparentMark traffic to lo
	RulePriority    int    // priority of the "fwmark TransparentMark lookup RouteTable" rule

	ExemptSources        []netip.Prefix // node addresses (kubelet probes): never captured inbound
	ExcludeInboundPorts  []uint16       // destination ports never captured inbound
	ExcludeOutboundPorts []uint16       // destination ports never captured outbound
	ExcludeOutboundCIDRs []netip.Prefix // destinations never captured outbound
}

// DefaultConfig is Wayfabric's reserved numbers (docs/ztunnel.md); the
// caller adds the node's addresses to ExemptSources.
func DefaultConfig() Config {
	return Config{
		OutboundPort:    15001,
		InboundPort:     15006,
		HBONEPort:       15008,
		BypassMark:      0x539,
		TransparentMark: 0x53a,
		RouteTable:      0x53a,
		RulePriority:    0x53a,
	}
}

// Validate reports a Config Install would refuse, naming every problem.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.OutboundPort == 0 || c.InboundPort == 0 || c.HBONEPort == 0 {
		bad("outboundPort, inboundPort and hbonePort must be set (got %d, %d, %d)", c.OutboundPort, c.InboundPort, c.HBONEPort)
	} else if c.OutboundPort == c.InboundPort || c.OutboundPort == c.HBONEPort || c.InboundPort == c.HBONEPort {
		bad("outboundPort, inboundPort and hbonePort must differ (got %d, %d, %d)", c.OutboundPort, c.InboundPort, c.HBONEPort)
	}
	if c.BypassMark == 0 || c.TransparentMark == 0 || c.BypassMark == c.TransparentMark {
		bad("bypassMark and transparentMark must be set and differ (got %#x, %#x)", c.BypassMark, c.TransparentMark)
	}
	// 0 is unspecified; 253-255 are the kernel's default, main and local tables.
	if c.RouteTable <= 0 || (c.RouteTable >= 253 && c.RouteTable <= 255) {
		bad("routeTable %d is reserved or invalid: use 1-252 or above 255", c.RouteTable)
	}
	// The rule must come after the local table (0) and before main (32766).
	if c.RulePriority <= 0 || c.RulePriority >= 32766 {
		bad("rulePriority %d must be between 1 and 32765 (before the main table's rule)", c.RulePriority)
	}
	for _, p := range append(append([]netip.Prefix(nil), c.ExemptSources...), c.ExcludeOutboundCIDRs...) {
		if !p.IsValid() {
			bad("invalid prefix %v", p)
		}
	}
	for _, p := range c.ExcludeInboundPorts {
		if p == 0 {
			bad("excludeInboundPorts: port 0")
		}
		if p == c.OutboundPort || p == c.InboundPort {
			bad("excludeInboundPorts: %d is one of ztunnel's capture ports", p)
		}
	}
	for _, p := range c.ExcludeOutboundPorts {
		if p == 0 {
			bad("excludeOutboundPorts: port 0")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("capture config: %w", errors.Join(errs...))
	}
	return nil
}
