package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DialOptions tune DialTCP.
type DialOptions struct {
	// Mark is the socket's SO_MARK (0: none). ztunnel marks its own
	// sockets so that the capture rules let them through.
	Mark uint32
	// Source is the local address to bind (zero: the kernel chooses; port 0:
	// the kernel chooses the port).
	Source netip.AddrPort
	// Transparent sets IP_TRANSPARENT / IPV6_TRANSPARENT so that Source may
	// be a non-local address: ztunnel connects to the local application
	// with the original client's address.
	Transparent bool
	// AvoidSourcePort, with a Source port of 0, keeps the kernel-chosen port
	// off this value. The inbound plaintext path must pass the client's own
	// port here: a transparent connection client:port → app:port would
	// have the 4-tuple of the client's (redirected) connection, and
	// conntrack would send it back to the inbound listener.
	AvoidSourcePort uint16
}

// aLongTimeAgo is a deadline that has passed: setting it wakes a blocked
// poller wait immediately.
var aLongTimeAgo = time.Unix(1, 0)

// DialTCP connects to dst from a socket that lives in n. Only socket
// creation and bind run inside n; the connect itself waits in the runtime
// poller like any Go dial, so no OS thread is held in n while the
// handshake is in flight. ctx cancels the dial and bounds it with its
// deadline.
func (n *NS) DialTCP(ctx context.Context, dst netip.AddrPort, o DialOptions) (*net.TCPConn, error) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	src := netip.AddrPortFrom(o.Source.Addr().Unmap(), o.Source.Port())
	opErr := func(err error) error {
		e := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(dst), Err: err}
		if src.Addr().IsValid() {
			e.Source = net.TCPAddrFromAddrPort(src)
		}
		return e
	}
	if !dst.IsValid() {
		return nil, opErr(errors.New("invalid destination"))
	}
	if src.Addr().IsValid() && src.Addr().Is4() != dst.Addr().Is4() {
		return nil, opErr(errors.New("source and destination address families differ"))
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}
	o.Source = src

	fd := -1
	if err := n.Do(func() (err error) {
		fd, err = newDialSocket(dst.Addr().Is4(), o)
		return err
	}); err != nil {
		return nil, opErr(err)
	}

	if err := unix.Connect(fd, sockaddr(dst)); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, opErr(os.NewSyscallError("connect", err))
	}
	// The descriptor is non-blocking, so os.NewFile registers it with the
	// runtime poller: waiting for writability parks this goroutine only.
	f := os.NewFile(uintptr(fd), "tcp:"+dst.String())
	defer f.Close()
	if err := waitConnected(ctx, f); err != nil {
		return nil, opErr(err)
	}
	c, err := net.FileConn(f) // dups the descriptor; f's copy is closed above
	if err != nil {
		return nil, opErr(err)
	}
	return c.(*net.TCPConn), nil
}

// waitConnected waits until a non-blocking connect on f completes, fails,
// or ctx ends.
func waitConnected(ctx context.Context, f *os.File) error {
	if dl, ok := ctx.Deadline(); ok {
		if err := f.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	werr := rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			cerr = os.NewSyscallError("getsockopt SO_ERROR", err)
			return true
		}
		switch e := syscall.Errno(v); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		case 0:
			// The poller may wake us spuriously (and the first call runs
			// before any wait): only a peer name proves the connection.
			_, err := unix.Getpeername(int(fd))
			return err == nil
		default:
			cerr = os.NewSyscallError("connect", e)
			return true
		}
	})
	if werr != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return context.DeadlineExceeded
		}
		return werr
	}
	return cerr
}

// newDialSocket creates, configures and binds a non-blocking TCP socket in
// the calling thread's namespace.
func newDialSocket(v4 bool, o DialOptions) (int, error) {
	fd, err := newBoundSocket(v4, o)
	if err != nil || o.AvoidSourcePort == 0 || o.Source.Port() != 0 || !o.Source.Addr().IsValid() {
		return fd, err
	}
	// Hold the unwanted port while binding again: the kernel must pick
	// another one.
	for range 3 {
		port, err := localPort(fd)
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		if port != o.AvoidSourcePort {
			return fd, nil
		}
		next, err := newBoundSocket(v4, o)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	unix.Close(fd)
	return -1, fmt.Errorf("the kernel keeps choosing source port %d", o.AvoidSourcePort)
}

func newBoundSocket(v4 bool, o DialOptions) (int, error) {
	family, ipLevel, transparentOpt := unix.AF_INET6, unix.SOL_IPV6, unix.IPV6_TRANSPARENT
	if v4 {
		family, ipLevel, transparentOpt = unix.AF_INET, unix.SOL_IP, unix.IP_TRANSPARENT
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := configureSocket(fd, ipLevel, transparentOpt, o); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func configureSocket(fd, ipLevel, transparentOpt int, o DialOptions) error {
	if o.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(o.Mark)); err != nil {
			return os.NewSyscallError("setsockopt SO_MARK", err)
		}
	}
	if o.Transparent {
		if err := unix.SetsockoptInt(fd, ipLevel, transparentOpt, 1); err != nil {
			return os.NewSyscallError("setsockopt IP_TRANSPARENT", err)
		}
	}
	if !o.Source.Addr().IsValid() {
		return nil
	}
	if o.Source.Port() == 0 && o.AvoidSourcePort == 0 {
		// Let connect(2) pick the port by the full 4-tuple, so one source
		// address can carry more than 64k connections in total.
		if err := unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			return os.NewSyscallError("setsockopt IP_BIND_ADDRESS_NO_PORT", err)
		}
	}
	if err := unix.Bind(fd, sockaddr(o.Source)); err != nil {
		return os.NewSyscallError("bind "+o.Source.String(), err)
	}
	return nil
}

func localPort(fd int) (uint16, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, os.NewSyscallError("getsockname", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return uint16(sa.Port), nil
	case *unix.SockaddrInet6:
		return uint16(sa.Port), nil
	}
	return 0, fmt.Errorf("getsockname: unexpected %T", sa)
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
}
