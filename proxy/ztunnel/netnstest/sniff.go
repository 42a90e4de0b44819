package netnstest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// Segment is one IPv4 TCP segment seen on a link.
type Segment struct {
	Src, Dst netip.AddrPort
	// Raw is the whole frame, to look for payload bytes in.
	Raw []byte
}

// Sniffer captures IPv4 TCP segments on one link (AF_PACKET), like a
// packet capture on a node's bridge.
type Sniffer struct {
	fd      int
	stopped atomic.Bool
	mu      sync.Mutex
	segs    []Segment
	done    chan struct{}
}

// TB is what Sniff needs of a test: testing.TB, or Ginkgo's GinkgoT().
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Sniff starts capturing on link in namespace ns (netns.Current() for the
// node itself); Stop ends it. t fails if the link cannot be opened.
func Sniff(t TB, ns *netns.NS, link string) *Sniffer {
	t.Helper()
	s := &Sniffer{done: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		s.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("netnstest: sniffing %s: %v", link, err)
	}
	// A receive timeout lets the loop notice Stop.
	_ = unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	go func() {
		defer close(s.done)
		buf := make([]byte, 65536)
		for !s.stopped.Load() {
			n, _, err := unix.Recvfrom(s.fd, buf, 0)
			if err != nil {
				continue // EAGAIN on timeout, EINTR
			}
			if seg, ok := parseSegment(buf[:n]); ok {
				s.mu.Lock()
				s.segs = append(s.segs, seg)
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop ends the capture (after a moment for frames in flight) and returns
// what was seen.
func (s *Sniffer) Stop() []Segment {
	if !s.stopped.Load() {
		time.Sleep(200 * time.Millisecond)
		s.stopped.Store(true)
		<-s.done
		_ = unix.Close(s.fd)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.segs
}

func parseSegment(b []byte) (Segment, bool) {
	if len(b) < 14+20 || binary.BigEndian.Uint16(b[12:14]) != unix.ETH_P_IP {
		return Segment{}, false
	}
	ip := b[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != unix.IPPROTO_TCP || len(ip) < ihl+20 {
		return Segment{}, false
	}
	src, _ := netip.AddrFromSlice(ip[12:16])
	dst, _ := netip.AddrFromSlice(ip[16:20])
	tcp := ip[ihl:]
	return Segment{Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:2])),
		Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:4])), Raw: append([]byte(nil), b...)}, true
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
