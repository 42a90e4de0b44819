package waypoint

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// upgradeBackend answers "Upgrade: echo" with 101 and then echoes bytes.
func upgradeBackend(t *testing.T) netip.AddrPort {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_, _ = io.Copy(conn, brw)
	})}
	l := loopback.Listen(t)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(l.Addr().String())
}

func TestProtocolUpgradeIsRelayed(t *testing.T) {
	w := newWorld()
	web := w.service("app", "web", "http", upgradeBackend(t))
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello", "\x00binary\xff"} {
		_, _ = io.WriteString(c, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v; want %q", got, err, msg)
		}
	}
}

func TestForwardedForIsAppended(t *testing.T) {
	b := startBackend(t, "b", false)
	w := newWorld()
	web := w.service("app", "web", "http", b.addr)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	cases := []struct{ prior, want string }{
		{"", "127.0.0.1"},
		{"203.0.113.7", "203.0.113.7, 127.0.0.1"},
	}
	for _, tc := range cases {
		hdr := map[string]string{}
		if tc.prior != "" {
			hdr["X-Forwarded-For"] = tc.prior
		}
		r := do(t, h1Client(addr), "GET", "http://web/", hdr, "")
		if got := r.echo.Headers["X-Forwarded-For"]; !strings.EqualFold(got, tc.want) {
			t.Errorf("X-Forwarded-For = %q, want %q", got, tc.want)
		}
	}
}
