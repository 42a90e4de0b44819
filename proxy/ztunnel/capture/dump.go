package capture

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// Dump describes, as read back from the kernel, what Install manages in ns:
// our table's sets, chains and rules, the rules selecting mark with their
// routes. It is deterministic (no handles or kernel IDs), so equal dumps
// mean equal capture; for logs and tests, not for parsing.
func Dump(ns *netns.NS, mark uint32) (string, error) {
	c, err := nftConn(ns)
	if err != nil {
		return "", err
	}
	defer c.CloseLasting()
	var b strings.Builder
	if _, err := c.ListTableOfFamily(TableName, table.Family); err != nil {
		if !errors.Is(err, unix.ENOENT) {
			return "", fmt.Errorf("capture: dump: %w", err)
		}
		b.WriteString("no table\n")
	} else if err := dumpTable(&b, c); err != nil {
		return "", fmt.Errorf("capture: dump: %w", err)
	}
	h, err := ns.NetlinkHandle()
	if err != nil {
		return "", err
	}
	defer h.Close()
	if err := dumpRouting(&b, h, mark); err != nil {
		return "", fmt.Errorf("capture: dump: %w", err)
	}
	return b.String(), nil
}

func dumpTable(b *strings.Builder, c *nftables.Conn) error {
	fmt.Fprintf(b, "table inet %s\n", TableName)
	sets, err := c.GetSets(table)
	if err != nil {
		return fmt.Errorf("sets: %w", err)
	}
	slices.SortFunc(sets, func(x, y *nftables.Set) int { return strings.Compare(x.Name, y.Name) })
	for _, s := range sets {
		els, err := c.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("set %s elements: %w", s.Name, err)
		}
		var keys []string
		for _, e := range els {
			k := fmt.Sprintf("%x", e.Key)
			if e.IntervalEnd {
				k += "(end)"
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(b, "  set %s %s interval=%v {%s}\n", s.Name, s.KeyType.Name, s.Interval, strings.Join(keys, " "))
	}
	chains, err := c.ListChainsOfTableFamily(table.Family)
	if err != nil {
		return fmt.Errorf("chains: %w", err)
	}
	slices.SortFunc(chains, func(x, y *nftables.Chain) int { return strings.Compare(x.Name, y.Name) })
	for _, ch := range chains {
		if ch.Table.Name != TableName {
			continue
		}
		var hook, prio, policy string
		if ch.Hooknum != nil {
			hook = fmt.Sprint(*ch.Hooknum)
		}
		if ch.Priority != nil {
			prio = fmt.Sprint(*ch.Priority)
		}
		if ch.Policy != nil {
			policy = fmt.Sprint(*ch.Policy)
		}
		fmt.Fprintf(b, "  chain %s type %s hook %s priority %s policy %s\n", ch.Name, ch.Type, hook, prio, policy)
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return fmt.Errorf("chain %s rules: %w", ch.Name, err)
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			fmt.Fprintf(b, "    rule %q:", comment)
			for _, e := range r.Exprs {
				if l, ok := e.(*expr.Lookup); ok {
					l := *l
					l.SetID = 0 // allocated per batch, meaningless here
					e = &l
				}
				fmt.Fprintf(b, " %s", strings.TrimPrefix(fmt.Sprintf("%T%+v", e, e), "*expr."))
			}
			b.WriteString("\n")
		}
	}
	return nil
}

func dumpRouting(b *strings.Builder, h *netlink.Handle, mark uint32) error {
	for _, fam := range families {
		rules, err := h.RuleList(fam)
		if err != nil {
			if noIPv6(fam, err) {
				continue
			}
			return err
		}
		for _, r := range rules {
			if !ourRule(r, []uint32{mark}) {
				continue
			}
			fmt.Fprintf(b, "rule family %d pref %d fwmark %#x lookup %d\n", fam, r.Priority, r.Mark, r.Table)
			routes, err := h.RouteListFiltered(fam, &netlink.Route{Table: r.Table}, netlink.RT_FILTER_TABLE)
			if err != nil {
				return err
			}
			var lines []string
			for _, rt := range routes {
				lines = append(lines, fmt.Sprintf("  route table %d type %d dst %v dev %d scope %d", rt.Table, rt.Type, rt.Dst, rt.LinkIndex, rt.Scope))
			}
			slices.Sort(lines)
			for _, l := range lines {
				b.WriteString(l + "\n")
			}
		}
	}
	return nil
}
