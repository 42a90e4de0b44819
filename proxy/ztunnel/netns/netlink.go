package netns

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkHandle returns an rtnetlink handle bound to n: links, addresses,
// routes and rules it reads or changes are n's, from any goroutine. The
// caller closes it.
//
// The socket is created inside Do rather than with netlink.NewHandleAt,
// which unlocks its thread even when switching back failed.
func (n *NS) NetlinkHandle() (*netlink.Handle, error) {
	var h *netlink.Handle
	err := n.Do(func() (err error) {
		// A netlink socket stays in the namespace it was created in.
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: netlink handle in %v: %w", n, err)
	}
	return h, nil
}
