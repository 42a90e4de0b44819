package netns_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// acceptPeers answers each connection with the peer's address.
func acceptPeers(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
			io.WriteString(c, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String())
			c.Close()
		}
	}()
}

func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestListenTCPLivesInTheNamespace(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2})
	server, client := topo.Pods[0], topo.Pods[1]
	// The pod's address exists only inside the pod: binding it proves the
	// socket was created there.
	for _, addr := range []netip.AddrPort{server.AddrPort(7000), server.AddrPort6(7000)} {
		ln, err := server.NS.ListenTCP(addr, netns.ListenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		acceptPeers(ln)
		c, err := client.Dial(context.Background(), addr, netns.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := readAll(t, c), c.LocalAddr().String(); got != want {
			t.Fatalf("server saw peer %q, want %q", got, want)
		}
		c.Close()
	}
	if ln, err := topo.Fabric.ListenTCP(server.AddrPort(7001), netns.ListenOptions{}); err == nil {
		ln.Close()
		t.Fatal("bound a pod's address outside the pod")
	}

	t.Run("address families", func(t *testing.T) {
		// 0.0.0.0 and [::] are separate sockets; the zero address is one
		// socket for both.
		v4, err := server.NS.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 7003), netns.ListenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer v4.Close()
		v6, err := server.NS.ListenTCP(netip.AddrPortFrom(netip.IPv6Unspecified(), 7003), netns.ListenOptions{})
		if err != nil {
			t.Fatalf("[::] next to 0.0.0.0: %v", err)
		}
		defer v6.Close()
		both, err := server.NS.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7004), netns.ListenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer both.Close()
		for _, tc := range []struct {
			ln  *net.TCPListener
			dst netip.AddrPort
		}{{v4, server.AddrPort(7003)}, {v6, server.AddrPort6(7003)}, {both, server.AddrPort(7004)}, {both, server.AddrPort6(7004)}} {
			acceptPeers(tc.ln)
			c, err := client.Dial(context.Background(), tc.dst, netns.DialOptions{})
			if err != nil {
				t.Fatalf("%v: %v", tc.dst, err)
			}
			readAll(t, c)
			c.Close()
		}
	})

	t.Run("SO_REUSEPORT lets a second listener bind", func(t *testing.T) {
		addr := server.AddrPort(7002)
		first, err := server.NS.ListenTCP(addr, netns.ListenOptions{ReusePort: true})
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		second, err := server.NS.ListenTCP(addr, netns.ListenOptions{ReusePort: true})
		if err != nil {
			t.Fatalf("second listener with ReusePort: %v", err)
		}
		second.Close()
		if third, err := server.NS.ListenTCP(addr, netns.ListenOptions{}); !errors.Is(err, syscall.EADDRINUSE) {
			if third != nil {
				third.Close()
			}
			t.Fatalf("listener without ReusePort: %v, want EADDRINUSE", err)
		}
	})
}

func TestDialTCP(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2})
	server, client := topo.Pods[0], topo.Pods[1]
	acceptPeers(server.Listen(netip.AddrPortFrom(netip.Addr{}, 7000)))
	ctx := context.Background()

	t.Run("the socket lives in the namespace", func(t *testing.T) {
		for _, dst := range []netip.AddrPort{server.AddrPort(7000), server.AddrPort6(7000)} {
			c, err := client.Dial(ctx, dst, netns.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			peer := readAll(t, c)
			c.Close()
			if want := c.LocalAddr().(*net.TCPAddr).AddrPort().String(); peer != want {
				t.Fatalf("server saw %s, client is %s", peer, want)
			}
			if !strings.Contains(peer, client.Addr.String()) && !strings.Contains(peer, client.Addr6.String()) {
				t.Fatalf("server saw %s, not the client pod's address", peer)
			}
		}
	})

	t.Run("source and mark", func(t *testing.T) {
		src := client.AddrPort(41234)
		c, err := client.Dial(ctx, server.AddrPort(7000), netns.DialOptions{Source: src, Mark: 0x539})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if peer := readAll(t, c); peer != src.String() {
			t.Fatalf("server saw %s, want %s", peer, src)
		}
		rc, _ := c.SyscallConn()
		var mark int
		var merr error
		rc.Control(func(fd uintptr) { mark, merr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK) })
		if merr != nil || mark != 0x539 {
			t.Fatalf("SO_MARK = %#x, %v", mark, merr)
		}
	})

	t.Run("refused", func(t *testing.T) {
		_, err := client.Dial(ctx, server.AddrPort(7999), netns.DialOptions{})
		var op *net.OpError
		if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &op) || op.Op != "dial" {
			t.Fatalf("got %v, want a dial OpError wrapping ECONNREFUSED", err)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		if _, err := client.Dial(ctx, server.AddrPort(7000), netns.DialOptions{Source: client.AddrPort6(0)}); err == nil || !strings.Contains(err.Error(), "families differ") {
			t.Fatalf("mixed families: %v", err)
		}
		if _, err := client.Dial(ctx, netip.AddrPort{}, netns.DialOptions{}); err == nil {
			t.Fatal("invalid destination accepted")
		}
		if _, err := client.Dial(ctx, server.AddrPort(7000), netns.DialOptions{Source: netip.MustParseAddrPort("192.0.2.9:0")}); !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Fatalf("non-local source without Transparent: %v, want EADDRNOTAVAIL", err)
		}
	})

	blackhole := netip.AddrPortFrom(netnstest.Blackhole4, 80)
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := client.Dial(ctx, blackhole, netns.DialOptions{})
		if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
			t.Fatalf("got %v after %v, want context.Canceled soon after 50ms", err, time.Since(start))
		}
	})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := client.Dial(ctx, blackhole, netns.DialOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := client.Dial(ctx, server.AddrPort(7000), netns.DialOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})

	// A pending dial waits in the runtime poller, not on an OS thread held
	// in the namespace: many hanging dials add no threads.
	t.Run("pending dials hold no threads", func(t *testing.T) {
		const n = 64
		ctx, cancel := context.WithCancel(ctx)
		errs := make(chan error, n)
		before := threads(t)
		for range n {
			go func() {
				_, err := client.Dial(ctx, blackhole, netns.DialOptions{})
				errs <- err
			}()
		}
		time.Sleep(300 * time.Millisecond) // all dials are in SYN_SENT by now
		during := threads(t)
		cancel()
		for range n {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Fatalf("dial: %v", err)
			}
		}
		if during-before > n/4 {
			t.Fatalf("%d pending dials grew the process from %d to %d threads", n, before, during)
		}
	})
}

func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line")
	return 0
}

func TestOriginalDstOfAPlainConnection(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 1})
	pod := topo.Pods[0]
	ln := pod.Listen(pod.AddrPort(7000))
	dialed := make(chan struct{})
	defer func() { <-dialed }()
	go func() {
		defer close(dialed)
		c, err := pod.Dial(context.Background(), pod.AddrPort(7000), netns.DialOptions{})
		if err == nil {
			defer c.Close()
			io.ReadAll(c)
		}
	}()
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Not redirected: either conntrack has the plain tuple (the
	// destination is the listener itself) or no entry at all.
	if dst, err := netns.OriginalDst(c); err == nil {
		t.Fatalf("OriginalDst of a direct connection = %v, want an error", dst)
	} else if !errors.Is(err, netns.ErrNotRedirected) && !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("OriginalDst: %v", err)
	}
}
