package waypoint

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// TestFastPathUpstreamAnswers: what the fast path does with the upstream's
// answers, through a real waypoint, checked on the raw bytes the client gets.
func TestFastPathUpstreamAnswers(t *testing.T) {
	big := strings.Repeat("b", 40<<10)
	cases := []struct {
		name    string
		reply   string
		request string
		check   func(t *testing.T, resp *http.Response, body string)
	}{
		{name: "a response head larger than the read buffer passes",
			reply:   "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 2\r\n\r\nok",
			request: "GET / HTTP/1.1\r\nHost: web\r\n\r\n",
			check: func(t *testing.T, resp *http.Response, body string) {
				if resp.StatusCode != 200 || resp.Header.Get("X-Big") != big || body != "ok" {
					t.Errorf("%d, %d-byte X-Big, body %q", resp.StatusCode, len(resp.Header.Get("X-Big")), body)
				}
			}},
		{name: "Content-Length and Transfer-Encoding from the upstream is a 502",
			reply:   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok",
			request: "GET / HTTP/1.1\r\nHost: web\r\n\r\n",
			check: func(t *testing.T, resp *http.Response, _ string) {
				if resp.StatusCode != http.StatusBadGateway {
					t.Errorf("status %d, want 502", resp.StatusCode)
				}
			}},
		{name: "hop-by-hop and Connection-listed fields are dropped, Date added",
			reply:   "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Keep: 2\r\nContent-Length: 0\r\n\r\n",
			request: "GET / HTTP/1.1\r\nHost: web\r\n\r\n",
			check: func(t *testing.T, resp *http.Response, _ string) {
				h := resp.Header
				if h.Get("X-Secret") != "" || h.Get("Keep-Alive") != "" || h.Get("X-Keep") != "2" || h.Get("Date") == "" {
					t.Errorf("headers %v", h)
				}
			}},
		{name: "unknown length to an HTTP/1.0 client: close-delimited",
			reply:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			request: "GET / HTTP/1.0\r\nHost: web\r\n\r\n",
			check: func(t *testing.T, resp *http.Response, body string) {
				if len(resp.TransferEncoding) != 0 || !resp.Close || body != "abc" {
					t.Errorf("TE %v close %v body %q", resp.TransferEncoding, resp.Close, body)
				}
			}},
		{name: "close-delimited answer to an HTTP/1.1 client is re-chunked",
			reply:   "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close",
			request: "GET / HTTP/1.1\r\nHost: web\r\n\r\n",
			check: func(t *testing.T, resp *http.Response, body string) {
				if len(resp.TransferEncoding) != 1 || resp.Close || body != "until-close" {
					t.Errorf("TE %v close %v body %q", resp.TransferEncoding, resp.Close, body)
				}
			}},
		{name: "a transfer coding other than chunked from the upstream is a 502",
			reply:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
			request: "GET / HTTP/1.1\r\nHost: web\r\n\r\n",
			check: func(t *testing.T, resp *http.Response, _ string) {
				if resp.StatusCode != http.StatusBadGateway {
					t.Errorf("status %d, want 502", resp.StatusCode)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			web := w.service("app", "web", "http", rawBackend(t, func(*http.Request, []byte) (string, bool) {
				return tc.reply, strings.Contains(tc.reply, "Connection: close")
			}))
			p := newProxy(t, w, Config{})
			addr, _ := listenProxy(t, p, web)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, resp, string(b))
		})
	}
}

// TestFastPathUpstreamDown: a refused upstream is a 502 that keeps the
// client's connection (the request was never half-sent), counted once.
func TestFastPathUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	w := newWorld()
	web := w.service("app", "web", "http", closed)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i := range 2 {
		_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabc")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusBadGateway || resp.Close {
			t.Fatalf("request %d: %d close=%v, want 502 on a kept connection", i, resp.StatusCode, resp.Close)
		}
	}
	if n := p.Recorder().Snapshot().Requests.Total; n != 2 {
		t.Errorf("load report counted %d requests, want 2", n)
	}
}

// TestFastPathEveryPooledConnectionClosed: the upstream closed all the
// waypoint's kept-alive connections at once (a restart, or the node proxy
// in front of it cutting them on a policy change): the next request is
// retried on a new connection, not on the next dead one from the pool.
func TestFastPathEveryPooledConnectionClosed(t *testing.T) {
	var mu sync.Mutex
	var open []*net.TCPConn
	backend := loopback.Serve(t, func(c *net.TCPConn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
				time.Sleep(d)
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	w := newWorld()
	web := w.service("app", "web", "http", backend)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	get := func(path string) int {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return 0
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: web\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// Three requests at once leave three idle upstream connections.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); get("/?sleep=200ms") }()
	}
	wg.Wait()
	mu.Lock()
	if len(open) < 3 {
		t.Fatalf("%d upstream connections, want 3 pooled", len(open))
	}
	for _, c := range open {
		_ = c.Close()
	}
	mu.Unlock()
	time.Sleep(50 * time.Millisecond) // the FINs arrive
	if s := get("/"); s != 200 {
		t.Fatalf("status %d after the upstream closed every pooled connection, want 200", s)
	}
}
