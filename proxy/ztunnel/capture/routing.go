package capture

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// policyRouting is "ip rule add pref <prio> fwmark <mark> lookup <table>"
// plus "ip route add local default dev lo table <table>", for IPv4 and IPv6:
// packets carrying the transparent mark (the application's replies to a
// transparent connection, after the route_output chain restored the mark)
// are delivered locally to ztunnel's socket instead of leaving the pod.
type policyRouting struct {
	mark        uint32
	table, prio int
}

var families = []int{netlink.FAMILY_V4, netlink.FAMILY_V6}

const fullMask = ^uint32(0)

func routingOf(cfg Config) policyRouting {
	return policyRouting{mark: cfg.TransparentMark, table: cfg.RouteTable, prio: cfg.RulePriority}
}

// ourRule reports whether r selects one of marks (exact match): such rules
// are the ones Install manages.
func ourRule(r netlink.Rule, marks []uint32) bool {
	return r.Mask != nil && *r.Mask == fullMask && slices.Contains(marks, r.Mark) && !r.Invert
}

func (p policyRouting) matches(r netlink.Rule) bool {
	return r.Priority == p.prio && r.Table == p.table && r.Mark == p.mark &&
		r.Mask != nil && *r.Mask == fullMask && !r.Invert &&
		r.Src == nil && r.Dst == nil && r.IifName == "" && r.OifName == ""
}

func (p policyRouting) rule(family int) *netlink.Rule {
	r := netlink.NewRule()
	r.Family = family
	r.Priority = p.prio
	r.Table = p.table
	r.Mark = p.mark
	mask := fullMask
	r.Mask = &mask
	return r
}

// localDefault is "local default dev lo table <table>" of one family.
func localDefault(family, table, lo int) *netlink.Route {
	dst := &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	if family == netlink.FAMILY_V6 {
		dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return &netlink.Route{Family: family, Table: table, Type: unix.RTN_LOCAL, Dst: dst,
		LinkIndex: lo, Scope: netlink.SCOPE_HOST}
}

// noIPv6 reports errors meaning the namespace has no IPv6: the kernel was
// booted with ipv6.disable=1 (EAFNOSUPPORT) or IPv6 is disabled on lo by
// sysctl (EACCES). IPv6 routing is then skipped; there is no IPv6 traffic
// to deliver.
func noIPv6(family int, err error) bool {
	return family == netlink.FAMILY_V6 && (errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EACCES))
}

// installRouting converges the namespace's policy routing on want: the
// route and one rule per family; rules for want's mark or a previous mark
// (stale) that differ are deleted with their local route.
func installRouting(h *netlink.Handle, want policyRouting, stale []uint32) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	marks := append([]uint32{want.mark}, stale...)
	for _, fam := range families {
		if err := h.RouteReplace(localDefault(fam, want.table, lo.Attrs().Index)); err != nil {
			if noIPv6(fam, err) {
				continue
			}
			return fmt.Errorf("route local default dev lo table %d: %w", want.table, err)
		}
		rules, err := h.RuleList(fam)
		if err != nil {
			return fmt.Errorf("list rules: %w", err)
		}
		have := false
		for _, r := range rules {
			switch {
			case !ourRule(r, marks):
			case want.matches(r) && !have:
				have = true
			default:
				if err := deleteRule(h, r, lo.Attrs().Index, want.table); err != nil {
					return err
				}
			}
		}
		if !have {
			// EEXIST: a concurrent Install added it meanwhile.
			if err := h.RuleAdd(want.rule(fam)); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("rule fwmark %#x lookup %d: %w", want.mark, want.table, err)
			}
		}
	}
	return nil
}

// removeRouting deletes every rule selecting one of marks and the local
// route in its table.
func removeRouting(h *netlink.Handle, marks []uint32) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	for _, fam := range families {
		rules, err := h.RuleList(fam)
		if err != nil {
			if noIPv6(fam, err) {
				continue
			}
			return fmt.Errorf("list rules: %w", err)
		}
		for _, r := range rules {
			if ourRule(r, marks) {
				if err := deleteRule(h, r, lo.Attrs().Index, -1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// deleteRule deletes r and, unless its table is keepTable, the local
// default route Install put there.
func deleteRule(h *netlink.Handle, r netlink.Rule, lo, keepTable int) error {
	if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete rule %v: %w", r, err)
	}
	if r.Table == keepTable {
		return nil
	}
	fam := netlink.FAMILY_V4
	if r.Family == unix.AF_INET6 {
		fam = netlink.FAMILY_V6
	}
	if err := h.RouteDel(localDefault(fam, r.Table, lo)); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route local default table %d: %w", r.Table, err)
	}
	return nil
}
