package waypoint

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// rawBackend answers each request on a connection with reply(request),
// closing the connection when close(request) says so.
func rawBackend(t *testing.T, reply func(r *http.Request, body []byte) (resp string, closeAfter bool)) netip.AddrPort {
	return loopback.Serve(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			resp, closeAfter := reply(r, body)
			if _, err := io.WriteString(c, resp); err != nil || closeAfter {
				return
			}
		}
	})
}

func TestInlineHTTP1Client(t *testing.T) {
	cases := []struct {
		name    string
		reply   func(r *http.Request, body []byte) (string, bool)
		method  string
		body    io.Reader
		repeat  int
		pause   time.Duration
		status  int
		want    string
		trailer string
	}{
		{
			name: "server closes kept-alive connections: the next request retries on a fresh one",
			reply: func(r *http.Request, _ []byte) (string, bool) {
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true // closes without saying so
			},
			method: "GET", repeat: 5, pause: 20 * time.Millisecond, status: 200, want: "ok",
		},
		{
			name: "upload of unknown length is streamed chunked",
			reply: func(r *http.Request, body []byte) (string, bool) {
				msg := fmt.Sprintf("%s %d %v", r.Method, len(body), r.TransferEncoding)
				return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg), false
			},
			method: "POST", body: io.MultiReader(strings.NewReader(strings.Repeat("x", 200<<10))), status: 200, want: "POST 204800 [chunked]",
		},
		{
			name: "HEAD answer has no body to wait for",
			reply: func(r *http.Request, _ []byte) (string, bool) {
				return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", false
			},
			method: "HEAD", repeat: 3, status: 200, want: "",
		},
		{
			name: "204 answers reuse the connection",
			reply: func(r *http.Request, _ []byte) (string, bool) {
				return "HTTP/1.1 204 No Content\r\n\r\n", false
			},
			method: "GET", repeat: 3, status: 204, want: "",
		},
		{
			name: "close-delimited body is read to the end",
			reply: func(r *http.Request, _ []byte) (string, bool) {
				return "HTTP/1.1 200 OK\r\n\r\nuntil-close", true
			},
			method: "GET", repeat: 2, status: 200, want: "until-close",
		},
		{
			name: "interim 100 Continue is skipped",
			reply: func(r *http.Request, _ []byte) (string, bool) {
				return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone", false
			},
			method: "PUT", body: strings.NewReader("data"), status: 201, want: "done",
		},
		{
			name: "chunked answer with trailers",
			reply: func(r *http.Request, _ []byte) (string, bool) {
				return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n", false
			},
			method: "GET", repeat: 2, status: 200, want: "abc", trailer: "42",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			web := w.service("app", "web", "http", rawBackend(t, tc.reply))
			p := newProxy(t, w, Config{})
			addr, _ := listenProxy(t, p, web)
			c := h1Client(addr)
			for i := 0; i < max(tc.repeat, 1); i++ {
				req, _ := http.NewRequest(tc.method, "http://web/", tc.body)
				if tc.body != nil {
					req.ContentLength = -1 // unknown length: exercises chunked uploads
					if s, ok := tc.body.(*strings.Reader); ok {
						req.ContentLength = int64(s.Len())
					}
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || string(b) != tc.want {
					t.Fatalf("request %d: %d %q, want %d %q", i, resp.StatusCode, b, tc.status, tc.want)
				}
				if got := resp.Trailer.Get("X-Sum"); got != tc.trailer {
					t.Fatalf("trailer X-Sum = %q, want %q", got, tc.trailer)
				}
				time.Sleep(tc.pause)
			}
		})
	}
}

// An upstream that answers before reading a large upload must not hang the proxy.
func TestEarlyAnswerToLargeUpload(t *testing.T) {
	upstream := loopback.Serve(t, func(c *net.TCPConn) {
		_, _ = http.ReadRequest(bufio.NewReader(c)) // headers only, never the body
		_, _ = io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
		time.Sleep(2 * time.Second)
	})
	w := newWorld()
	web := w.service("app", "web", "http", upstream)
	p := newProxy(t, w, Config{})
	addr, _ := listenProxy(t, p, web)
	start := time.Now()
	req, _ := http.NewRequest("POST", "http://web/", io.LimitReader(zeros{}, 64<<20))
	req.ContentLength = -1
	resp, err := h1Client(addr).Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !bytes.Equal(b, []byte("big")) {
			t.Fatalf("got %d %q, want 413", resp.StatusCode, b)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
