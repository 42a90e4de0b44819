package capture

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// Install puts cfg's capture into ns, replacing whatever an earlier
// Install left there: the policy routing first (inert until the rules
// mark packets), then the whole nftables table in one atomic transaction.
// Running it again with the same cfg changes nothing; with a changed cfg
// it converges. Established connections keep flowing: their NAT state
// lives in conntrack, not in the rules. Needs CAP_NET_ADMIN in ns and
// CAP_SYS_ADMIN (the netlink sockets are opened inside ns).
func Install(ns *netns.NS, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	c, err := nftConn(ns)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	h, err := ns.NetlinkHandle()
	if err != nil {
		return fmt.Errorf("capture: install in %v: %w", ns, err)
	}
	defer h.Close()

	var stale []uint32
	if m, ok := installedMark(c); ok && m != cfg.TransparentMark {
		stale = append(stale, m)
	}
	if err := installRouting(h, routingOf(cfg), stale); err != nil {
		return fmt.Errorf("capture: install policy routing in %v: %w", ns, err)
	}
	if err := queueTable(c, cfg); err != nil {
		return fmt.Errorf("capture: build nftables table: %w", err)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("capture: install nftables table %q in %v: %w", TableName, ns, err)
	}
	return nil
}

// Remove deletes what Install added to ns: the table and the policy
// routing (for the installed transparent mark, and the default one). It is
// not an error if nothing is installed.
func Remove(ns *netns.NS) error {
	c, err := nftConn(ns)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	marks := []uint32{DefaultConfig().TransparentMark}
	if m, ok := installedMark(c); ok && m != marks[0] {
		marks = append(marks, m)
	}
	// Add-then-delete: deleting works whether or not the table exists.
	c.AddTable(table)
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("capture: remove nftables table %q from %v: %w", TableName, ns, err)
	}
	h, err := ns.NetlinkHandle()
	if err != nil {
		return fmt.Errorf("capture: remove from %v: %w", ns, err)
	}
	defer h.Close()
	if err := removeRouting(h, marks); err != nil {
		return fmt.Errorf("capture: remove policy routing from %v: %w", ns, err)
	}
	return nil
}

// Installed reports whether ns has our nftables table, i.e. whether its
// traffic is being captured (and fails closed while no ztunnel serves it).
func Installed(ns *netns.NS) (bool, error) {
	c, err := nftConn(ns)
	if err != nil {
		return false, err
	}
	defer c.CloseLasting()
	_, err = c.ListTableOfFamily(TableName, table.Family)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("capture: look for table %q in %v: %w", TableName, ns, err)
}

// nftConn opens one nftables netlink socket in ns for a whole operation.
func nftConn(ns *netns.NS) (*nftables.Conn, error) {
	var c *nftables.Conn
	// The lasting socket is opened (inside ns) right here, while WithFd
	// keeps the descriptor from being closed under it.
	err := ns.WithFd(func(fd int) (err error) {
		c, err = nftables.New(nftables.WithNetNSFd(fd), nftables.AsLasting())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capture: nftables in %v: %w", ns, err)
	}
	return c, nil
}

// installedMark reads the transparent mark of the installed table from its
// "ct mark == <mark>" rule in route_output.
func installedMark(c *nftables.Conn) (uint32, bool) {
	rules, err := c.GetRules(table, &nftables.Chain{Name: "route_output", Table: table})
	if err != nil {
		return 0, false
	}
	for _, r := range rules {
		for i, e := range r.Exprs {
			ct, ok := e.(*expr.Ct)
			if !ok || ct.Key != expr.CtKeyMARK || ct.SourceRegister || i+1 >= len(r.Exprs) {
				continue
			}
			if cmp, ok := r.Exprs[i+1].(*expr.Cmp); ok && cmp.Op == expr.CmpOpEq && len(cmp.Data) == 4 {
				m := binaryutil.NativeEndian.Uint32(cmp.Data)
				return m, m != 0
			}
		}
	}
	return 0, false
}
