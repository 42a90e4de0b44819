package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"
)

// FindByAddr scans procRoot/<pid>/ns/net (procRoot is /proc, or the host's
// /proc mounted elsewhere, e.g. /host/proc) for the network namespaces that
// hold the wanted interface addresses. Each namespace is opened once however
// many processes share it, and its addresses are read through a netlink
// socket bound to it.
//
// The result maps each address found to its namespace; addresses not found
// are absent. One *NS may serve several addresses: close each distinct NS
// once (CloseAll). Namespaces without a wanted address are closed.
// Processes that exit during the scan are skipped. The error is non-nil if
// procRoot cannot be read, or if some address was not found while some
// namespaces could not be inspected (e.g. permission denied), saying why.
func FindByAddr(procRoot string, addrs []netip.Addr) (map[netip.Addr]*NS, error) {
	want := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		want[a.Unmap()] = true
	}
	found := map[netip.Addr]*NS{}
	if len(want) == 0 {
		return found, nil
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return found, fmt.Errorf("netns: find by address: %w", err)
	}
	seen := map[uint64]bool{}
	var problems []error
	for _, e := range entries {
		if len(found) == len(want) {
			break
		}
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		path := filepath.Join(procRoot, e.Name(), "ns", "net")
		// stat follows the /proc magic link to the namespace inode, so
		// shared namespaces are skipped without being opened.
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			if !vanished(err) {
				problems = append(problems, fmt.Errorf("%s: %w", path, err))
			}
			continue
		}
		if seen[st.Ino] {
			continue
		}
		ns, err := Open(path)
		if err != nil {
			if !vanished(err) {
				problems = append(problems, err)
			}
			continue
		}
		seen[st.Ino] = true
		if ns.ID() != st.Ino { // the pid was reused between stat and open
			if seen[ns.ID()] {
				ns.Close()
				continue
			}
			seen[ns.ID()] = true
		}
		held, err := ns.addrs()
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			ns.Close()
			continue
		}
		used := false
		for _, a := range held {
			if want[a] && found[a] == nil {
				found[a] = ns
				used = true
			}
		}
		if !used {
			ns.Close()
		}
	}
	if len(found) < len(want) && len(problems) > 0 {
		return found, fmt.Errorf("netns: find by address: %d of %d addresses not found; %d namespaces could not be inspected: %w",
			len(want)-len(found), len(want), len(problems), errors.Join(problems...))
	}
	return found, nil
}

// CloseAll closes each distinct namespace of a FindByAddr result once.
func CloseAll(m map[netip.Addr]*NS) {
	closed := map[*NS]bool{}
	for _, ns := range m {
		if !closed[ns] {
			closed[ns] = true
			ns.Close()
		}
	}
}

// addrs lists the interface addresses of n.
func (n *NS) addrs() ([]netip.Addr, error) {
	h, err := n.NetlinkHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	list, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(list))
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

// vanished reports errors that mean the process exited during the scan.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}
