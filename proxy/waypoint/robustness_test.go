package waypoint

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// tcpEcho is a raw TCP server: it optionally sends a banner first, then echoes.
func tcpEcho(t *testing.T, banner string) netip.AddrPort {
	return loopback.Serve(t, func(c *net.TCPConn) {
		if banner != "" {
			_, _ = io.WriteString(c, banner)
		}
		_, _ = io.Copy(c, c)
	})
}

func TestL4Passthrough(t *testing.T) {
	cases := []struct {
		name     string
		portName string // declares the protocol, or not
		banner   string
		send     string
	}{
		{name: "client-first binary protocol is sniffed as L4", portName: "data", send: "\x16\x03\x01binary-tls-like"},
		{name: "declared tcp port is never parsed", portName: "tcp-db", send: "GET / HTTP/1.1\r\n\r\n"},
		{name: "server-first protocol passes after the sniff timeout", portName: "db", banner: "220 ready\r\n", send: "HELO x\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			dst := w.service("app", "db", tc.portName, tcpEcho(t, tc.banner))
			p := newProxy(t, w, Config{SniffTimeout: 100 * time.Millisecond})
			addr, _ := listenProxy(t, p, dst)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			if tc.banner != "" {
				got := make([]byte, len(tc.banner))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != tc.banner {
					t.Fatalf("banner = %q, %v", got, err)
				}
			}
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tc.send))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != tc.send {
				t.Fatalf("echo = %q, %v; want %q", got, err, tc.send)
			}
		})
	}
}

// TestHostileClients: malformed requests, oversized headers and slowloris
// get bounded answers and never take the proxy down.
func TestHostileClients(t *testing.T) {
	b := startBackend(t, "b", false)
	w := newWorld()
	web := w.service("app", "web", "http", b.addr)
	p := newProxy(t, w, Config{MaxHeaderBytes: 8 << 10, ReadHeaderTimeout: 300 * time.Millisecond})
	addr, _ := listenProxy(t, p, web)

	raw := func(t *testing.T, payload string) string {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, payload)
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	cases := []struct {
		name, payload, wantStatus string
	}{
		{"bad request line", "GET\r\n\r\n", "400"},
		{"header without colon", "GET / HTTP/1.1\r\nHost: web\r\nbroken\r\n\r\n", "400"},
		{"control character in header", "GET / HTTP/1.1\r\nHost: web\r\nX: a\x00b\r\n\r\n", "400"},
		{"conflicting content lengths", "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
		{"unsupported transfer encoding", "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501"},
		{"oversized headers", "GET / HTTP/1.1\r\nHost: web\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431"},
		{"CONNECT inside the tunnel", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "405"},
		{"absolute-form URI is routed on its path", "GET http://web/ok HTTP/1.1\r\nHost: web\r\n\r\n", "200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := raw(t, tc.payload); !strings.Contains(got, " "+tc.wantStatus+" ") {
				t.Fatalf("status line %q, want %s", got, tc.wantStatus)
			}
		})
	}

	t.Run("slowloris connections are closed and memory stays bounded", func(t *testing.T) {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 200
		conns := make([]net.Conn, 0, n)
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: web\r\nX-Slow: ")
			conns = append(conns, c)
		}
		// The proxy still serves others while the slow ones dribble.
		if r := do(t, h1Client(addr), "GET", "http://web/", nil, ""); r.status != 200 {
			t.Fatalf("normal request during slowloris: %d", r.status)
		}
		deadline := time.Now().Add(3 * time.Second)
		for _, c := range conns {
			_ = c.SetReadDeadline(deadline)
			_, _ = io.WriteString(c, "a") // keep dribbling
			// EOF or a reset both mean the proxy hung up; a timeout means it did not.
			if _, err := io.ReadAll(c); err != nil && isTimeout(err) {
				t.Fatalf("slow connection not closed by the proxy within 3s: %v", err)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 8<<20 {
			t.Errorf("heap grew by %d bytes after %d slow clients", grow, n)
		}
	})

	if r := do(t, h1Client(addr), "GET", "http://web/after", nil, ""); r.status != http.StatusOK {
		t.Fatalf("proxy unhealthy after hostile clients: %d", r.status)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
