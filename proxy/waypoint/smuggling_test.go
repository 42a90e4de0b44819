package waypoint

import (
	"bufio"
	"errors"
	"fmt"
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

// recordingUpstream is a real HTTP/1.1 server on loopback that records
// exactly the requests it received, framed by net/http's strict reader,
// each as "METHOD target body". Anything it cannot parse is recorded as
// "MALFORMED ..." so a test sees it.
type recordingUpstream struct {
	addr netip.AddrPort
	mu   sync.Mutex
	seen []string
}

func startRecordingUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.addr = loopback.Serve(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				if !errors.Is(err, io.EOF) && !isReset(err) {
					u.record("MALFORMED " + err.Error())
				}
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				// The proxy aborted a body it found invalid: the request never
				// completed, so no application would have acted on it.
				return
			}
			u.record(fmt.Sprintf("%s %s %s", r.Method, r.RequestURI, body))
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return u
}

func (u *recordingUpstream) record(s string) {
	u.mu.Lock()
	u.seen = append(u.seen, s)
	u.mu.Unlock()
}

func (u *recordingUpstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

// exchange writes raw on a new connection and reads answers until want
// of them arrived or the proxy closed the connection. closed reports
// whether the proxy hung up.
func exchange(t *testing.T, addr, raw string, want int) (statuses []int, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for len(statuses) < want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if isTimeout(err) {
				t.Fatalf("no answer within 5 s after %v", statuses)
			}
			return statuses, true
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 200 {
			continue // interim (100 Continue)
		}
		statuses = append(statuses, resp.StatusCode)
		if resp.Close {
			return statuses, true
		}
	}
	// All answers are in; the proxy must not send anything else.
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		t.Errorf("unexpected bytes after %d answers", want)
	}
	return statuses, false
}

// TestRequestSmuggling sends ambiguous and malformed framing from RFC 9112
// §2–§7 and the known desync classes through a real waypoint to a real
// upstream that records what it received. The waypoint must either reject
// (4xx/5xx, then close the connection) or forward an unambiguous
// re-framing; the upstream never sees a request the client did not send.
func TestRequestSmuggling(t *testing.T) {
	up := startRecordingUpstream(t)
	w := newWorld()
	web := w.service("app", "web", "http", up.addr)
	p := newProxy(t, w, Config{MaxHeaderBytes: 16 << 10})
	addr, _ := listenProxy(t, p, web)

	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: web\r\n\r\n"
	long := strings.Repeat("a", 24<<10) // over MaxHeaderBytes with any slack
	cases := []struct {
		name string
		raw  string
		// reject: the first answer is this status class (4 or 5) and the
		// connection closes; 0: every request is answered 200.
		reject int
		// wantStatus, if set, is the exact first status of a rejection.
		wantStatus int
		// upstream: exactly what the upstream must receive, in order.
		upstream []string
	}{
		// Content-Length and Transfer-Encoding together (RFC 9112 §6.1, §6.3).
		{name: "CL.TE: both framings, Content-Length first",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			reject: 4, wantStatus: 400},
		{name: "TE.CL: both framings, Transfer-Encoding first",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + fmt.Sprintf("%x", len(smuggled)) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
			reject: 4, wantStatus: 400},
		// Content-Length variants (RFC 9110 §8.6, RFC 9112 §6.3).
		{name: "two different Content-Lengths",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + smuggled,
			reject: 4, wantStatus: 400},
		{name: "comma-joined different Content-Lengths",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3, 40\r\n\r\nabc" + smuggled,
			reject: 4, wantStatus: 400},
		{name: "comma-joined equal Content-Lengths",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3, 3\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "duplicate equal Content-Lengths are one length",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
			upstream: []string{"POST /a abc"}},
		{name: "signed Content-Length",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: +3\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "hex Content-Length",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 0x3\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "Content-Length beyond int64",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 99999999999999999999\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "Content-Length with optional whitespace is fine",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length:   3  \r\n\r\nabc",
			upstream: []string{"POST /a abc"}},
		// Transfer-Encoding variants (RFC 9112 §6.1, §7).
		{name: "Transfer-Encoding: chunked, identity (chunked not last)",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "Transfer-Encoding: identity",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "unknown transfer coding before chunked",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
			reject: 5, wantStatus: 501},
		{name: "misspelt coding xchunked",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled,
			reject: 4, wantStatus: 400},
		{name: "chunked twice in two fields",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "Transfer-Encoding in an HTTP/1.0 request",
			raw:    "POST /a HTTP/1.0\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			reject: 4, wantStatus: 400},
		{name: "chunked with surrounding whitespace is chunked",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding:  chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			upstream: []string{"POST /a abc"}},
		// Field syntax (RFC 9112 §5).
		{name: "obs-fold hides Transfer-Encoding",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "obs-fold in an ordinary field",
			raw:    "GET /a HTTP/1.1\r\nHost: web\r\nX-Long: one\r\n two\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "whitespace between field name and colon",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length : 40\r\n\r\nabc" + smuggled,
			reject: 4, wantStatus: 400},
		{name: "space inside a field name",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
			reject: 4, wantStatus: 400},
		{name: "field line starting with whitespace after the request line",
			raw:    "GET /a HTTP/1.1\r\n Host: web\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "bare LF line endings",
			raw:    "GET /a HTTP/1.1\nHost: web\n\n",
			reject: 4, wantStatus: 400},
		{name: "bare CR in a field value",
			raw:    "GET /a HTTP/1.1\r\nHost: web\r\nX-A: a\rContent-Length: 40\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "NUL in a field value",
			raw:    "GET /a HTTP/1.1\r\nHost: web\r\nX-A: a\x00b\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "two Host fields",
			raw:    "GET /a HTTP/1.1\r\nHost: web\r\nHost: evil\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "HTTP/1.1 without Host",
			raw:    "GET /a HTTP/1.1\r\n\r\n",
			reject: 4, wantStatus: 400},
		// Request line (RFC 9112 §3).
		{name: "two spaces in the request line",
			raw:    "GET  /a HTTP/1.1\r\nHost: web\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "lower-case protocol name",
			raw:    "GET /a http/1.1\r\nHost: web\r\n\r\n",
			reject: 4, wantStatus: 400},
		{name: "control character in the request target",
			raw:    "GET /a\x01b HTTP/1.1\r\nHost: web\r\n\r\n",
			reject: 4, wantStatus: 400},
		// Chunked body syntax (RFC 9112 §7.1).
		{name: "chunk size that is not hex",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
			reject: 4},
		{name: "chunk size overflowing 64 bits",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n" + smuggled,
			reject: 4},
		{name: "negative chunk size",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
			reject: 4},
		{name: "chunk data longer than its size",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n" + smuggled,
			reject: 4},
		{name: "bare LF after the chunk size",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n" + smuggled,
			reject: 4},
		{name: "bare LF inside a chunk extension",
			raw:    "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n" + smuggled,
			reject: 4},
		{name: "valid chunk extensions are dropped, the body kept",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3;name=\"v\"\r\nabc\r\n0\r\n\r\n",
			upstream: []string{"POST /a abc"}},
		{name: "chunked body with trailer fields",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
			upstream: []string{"POST /a abc"}},
		// Sizes (RFC 9112 §2.3, RFC 6585 §5).
		{name: "over-long request line",
			raw:    "GET /" + long + " HTTP/1.1\r\nHost: web\r\n\r\n",
			reject: 4},
		{name: "over-long field line",
			raw:    "GET /a HTTP/1.1\r\nHost: web\r\nX-Big: " + long + "\r\n\r\n",
			reject: 4, wantStatus: 431},
		// Keep-alive and pipelining (RFC 9112 §9.3).
		{name: "HTTP/1.0 keep-alive: two requests",
			raw:      "GET /a HTTP/1.0\r\nHost: web\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nHost: web\r\nConnection: keep-alive\r\n\r\n",
			upstream: []string{"GET /a ", "GET /b "}},
		{name: "pipelined requests with bodies keep their order and bodies",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: web\r\n\r\n",
			upstream: []string{"POST /a hello", "POST /b world", "GET /c "}},
		{name: "a request inside a body stays body",
			raw:      "POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled,
			upstream: []string{"POST /a " + smuggled}},
		{name: "GET with a body, then a pipelined GET",
			raw:      "GET /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\nHost: web\r\n\r\n",
			upstream: []string{"GET /a xyz", "GET /b "}},
		{name: "Expect: 100-continue with a body",
			raw:      "PUT /a HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata",
			upstream: []string{"PUT /a data"}},
		{name: "an invalid request after a valid one closes the connection",
			raw:      "GET /a HTTP/1.1\r\nHost: web\r\n\r\nPOST /b HTTP/1.1\r\nHost: web\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			reject:   4,
			upstream: []string{"GET /a "}},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up.take()
			want := len(tc.upstream)
			if tc.reject != 0 {
				want++ // the accepted requests before it, then the rejection
			}
			statuses, closed := exchange(t, addr, tc.raw, max(want, 1))
			if tc.reject != 0 {
				last := 0
				if len(statuses) > 0 {
					last = statuses[len(statuses)-1]
				}
				if last/100 != tc.reject || (tc.wantStatus != 0 && last != tc.wantStatus) {
					t.Errorf("answers %v, want the last to be a %dxx (%d)", statuses, tc.reject, tc.wantStatus)
				}
				if !closed {
					t.Errorf("connection kept open after a framing error")
				}
				for _, st := range statuses[:max(len(statuses)-1, 0)] {
					if st != http.StatusOK {
						t.Errorf("answers %v: want 200 before the rejection", statuses)
					}
				}
			} else {
				for _, st := range statuses {
					if st != http.StatusOK {
						t.Errorf("answers %v, want all 200", statuses)
						break
					}
				}
				if len(statuses) != len(tc.upstream) {
					t.Errorf("%d answers %v, want %d", len(statuses), statuses, len(tc.upstream))
				}
			}
			// Give a wrongly forwarded request time to arrive.
			time.Sleep(20 * time.Millisecond)
			got := up.take()
			if strings.Join(got, "\n") != strings.Join(tc.upstream, "\n") {
				t.Errorf("upstream received:\n  %s\nwant:\n  %s", short(got), short(tc.upstream))
			}
		})
	}
}

// short keeps failure messages readable when a request is huge.
func short(reqs []string) string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		if len(r) > 80 {
			r = r[:80] + fmt.Sprintf("... (%d bytes)", len(r))
		}
		out[i] = fmt.Sprintf("%q", r)
	}
	return strings.Join(out, "\n  ")
}
