package netns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenOptions tune ListenTCP.
type ListenOptions struct {
	// ReusePort sets SO_REUSEPORT: an upgraded ztunnel binds the same
	// address next to the old one, and the kernel spreads new connections
	// over both until the old one closes its listener.
	ReusePort bool
}

// ListenTCP opens a TCP listener whose socket lives in n. The zero
// (invalid) address listens dual-stack, IPv4 and IPv6 on one socket; an
// IPv4 address (also 0.0.0.0) listens IPv4 only and an IPv6 address (also
// [::]) IPv6 only, so 0.0.0.0:p and [::]:p can be bound side by side.
func (n *NS) ListenTCP(addr netip.AddrPort, o ListenOptions) (*net.TCPListener, error) {
	network, address := listenNetwork(addr)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		if !o.ReusePort {
			return nil
		}
		return setsockoptInt(c, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")
	}}
	// Plain TCP: SO_ORIGINAL_DST, SO_MARK and the capture rules are about
	// TCP sockets, and Go may otherwise pick MPTCP for listeners.
	lc.SetMultipathTCP(false)
	var ln net.Listener
	err := n.Do(func() (err error) {
		// socket(2) runs on this goroutine's thread, which is inside n.
		ln, err = lc.Listen(context.Background(), network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listen on %s in %v: %w", address, n, err)
	}
	return ln.(*net.TCPListener), nil
}

func listenNetwork(addr netip.AddrPort) (network, address string) {
	a := addr.Addr()
	port := fmt.Sprint(addr.Port())
	switch {
	case !a.IsValid():
		return "tcp", net.JoinHostPort("", port)
	case a.Is4() || a.Is4In6():
		return "tcp4", net.JoinHostPort(a.Unmap().String(), port)
	default:
		return "tcp6", addr.String()
	}
}

func setsockoptInt(c syscall.RawConn, level, opt, value int, name string) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, value)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setsockopt %s: %w", name, serr)
	}
	return nil
}
