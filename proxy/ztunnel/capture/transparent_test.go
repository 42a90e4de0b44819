package capture_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// transparentDial is how ztunnel delivers to the local application: from
// inside the pod, with the client's address as source.
func transparentDial(ctx context.Context, pod *netnstest.Pod, dst netip.AddrPort, client netip.Addr, avoidPort uint16) (*net.TCPConn, error) {
	return pod.NS.DialTCP(ctx, dst, netns.DialOptions{
		Mark:            capture.DefaultConfig().TransparentMark,
		Source:          netip.AddrPortFrom(client, 0),
		Transparent:     true,
		AvoidSourcePort: avoidPort,
	})
}

// echoCheck reads the application's greeting and checks that bytes flow
// both ways.
func echoCheck(t *testing.T, c net.Conn, wantGreeting string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	if got := strings.TrimSuffix(line, "\n"); got != wantGreeting {
		t.Fatalf("greeting %q, want %q", got, wantGreeting)
	}
	msg := strings.Repeat("0123456789", 10000) // several segments each way
	go io.WriteString(c, msg)
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %v (got %d bytes)", err, len(buf))
	}
}

// TestTransparentDelivery: ztunnel connects to the application inside the
// pod with the original client's address; the application sees that
// address and its replies come back to ztunnel, not out of the pod. Also
// with strict and loose reverse-path filtering, which pods may inherit from
// the node.
func TestTransparentDelivery(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 3})
	client, server, bare := topo.Pods[0], topo.Pods[1], topo.Pods[2]
	install(t, server.NS, testConfig(topo))
	serve(t, server.NS, anyAddr(8080), "app", false)
	serve(t, bare.NS, anyAddr(8080), "app", false)
	// The real client also listens, so a reply that leaked out of the pod
	// would be answered (reset) rather than silently lost.
	serve(t, client.NS, anyAddr(8080), "client", false)

	for _, rpf := range []string{"0", "1", "2"} {
		if err := server.Sysctl("net/ipv4/conf/all/rp_filter", rpf); err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			t.Run(fmt.Sprintf("rp_filter=%s/%s", rpf, f.name), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				src := f.addr(client, 0).Addr()
				c, err := transparentDial(ctx, server, f.addr(server, 8080), src, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); got != src {
					t.Fatalf("local address %v, want the client's %v", got, src)
				}
				echoCheck(t, c, fmt.Sprintf("app %s -", src))
			})
		}
	}

	t.Run("without capture the replies leave the pod", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		c, err := transparentDial(ctx, bare, bare.AddrPort(8080), client.Addr, 0)
		if err == nil {
			c.Close()
			t.Fatal("transparent connection worked without the policy routing: the test proves nothing")
		}
	})
}

// TestInboundPlaintextPath runs the whole captured-inbound path: a peer
// connects to the application's port, the connection lands on InboundPort,
// ztunnel reads the original destination and connects to it transparently.
// The source port ztunnel uses must differ from the client's: with the same
// port the 4-tuple is the client's own (redirected) connection.
func TestInboundPlaintextPath(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2})
	client, server := topo.Pods[0], topo.Pods[1]
	cfg := testConfig(topo)
	install(t, server.NS, cfg)
	serve(t, server.NS, anyAddr(8080), "app", false)

	// Leave the kernel two ports to choose from; the client uses each in
	// turn, so whichever the kernel prefers, one run would collide.
	const low = 40000
	if err := server.Sysctl("net/ipv4/ip_local_port_range", fmt.Sprintf("%d %d", low, low+1)); err != nil {
		t.Fatal(err)
	}

	inbound, err := server.NS.ListenTCP(anyAddr(cfg.InboundPort), netns.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer inbound.Close()
	type result struct {
		local netip.AddrPort
		err   error
	}
	results := make(chan result, 4)
	go func() { // a minimal ztunnel inbound: original destination, transparent dial, splice
		for {
			in, err := inbound.AcceptTCP()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				dst, err := netns.OriginalDst(in)
				if err != nil {
					results <- result{err: err}
					return
				}
				peer := in.RemoteAddr().(*net.TCPAddr).AddrPort()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				out, err := transparentDial(ctx, server, dst, peer.Addr(), peer.Port())
				if err != nil {
					results <- result{err: err}
					return
				}
				defer out.Close()
				results <- result{local: out.LocalAddr().(*net.TCPAddr).AddrPort()}
				go func() { io.Copy(out, in); out.CloseWrite() }()
				io.Copy(in, out)
			}()
		}
	}()

	for _, f := range families {
		for _, clientPort := range []uint16{low, low + 1} {
			t.Run(fmt.Sprintf("%s/client port %d", f.name, clientPort), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, err := client.Dial(ctx, f.addr(server, 8080), netns.DialOptions{Source: f.addr(client, clientPort)})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				echoCheck(t, c, fmt.Sprintf("app %s -", f.addr(client, 0).Addr()))
				r := <-results
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.local.Port() == clientPort {
					t.Fatalf("ztunnel's transparent connection reused the client's port %d", clientPort)
				}
			})
		}
	}
}
