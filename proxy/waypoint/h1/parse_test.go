package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func parse(raw string) (*Request, error) {
	b := []byte(raw)
	n, err := FindHeadEnd(b, 0)
	if err != nil {
		return nil, err
	}
	var r Request
	return &r, ParseRequest(&r, b[:n])
}

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name, raw string
		status    int // 0: accepted
		check     func(t *testing.T, r *Request)
	}{
		{name: "simple GET", raw: "GET /a?b=1 HTTP/1.1\r\nHost: web\r\nX-A:  v  \r\n\r\n", check: func(t *testing.T, r *Request) {
			if string(r.Method) != "GET" || string(r.Target) != "/a?b=1" || string(r.Host) != "web" || r.ContentLength != -1 || r.Close {
				t.Errorf("%+v", r)
			}
			if len(r.Fields) != 2 || string(r.Fields[1].Value) != "v" {
				t.Errorf("fields %q", r.Fields)
			}
		}},
		{name: "HTTP/1.0 closes unless keep-alive", raw: "GET / HTTP/1.0\r\n\r\n", check: func(t *testing.T, r *Request) {
			if !r.Close || r.KeepAlive10 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "HTTP/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", check: func(t *testing.T, r *Request) {
			if r.Close || !r.KeepAlive10 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "Connection tokens", raw: "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Hop\r\nUpgrade: ws\r\n\r\n", check: func(t *testing.T, r *Request) {
			if !r.Close || r.Upgrade || len(r.ConnTokens) != 2 || string(r.ConnTokens[1]) != "X-Hop" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "chunked", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", check: func(t *testing.T, r *Request) {
			if !r.Chunked || r.ContentLength != -1 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "HTTP/2 version", raw: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505},
		{name: "unknown coding", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n", status: 501},
		{name: "empty coding", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n", status: 400},
		{name: "tab in value is fine", raw: "GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n"},
		{name: "DEL in value", raw: "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", status: 400},
		{name: "invalid host", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400},
		{name: "empty method", raw: " / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "no target", raw: "GET HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parse(tc.raw)
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.status != 0:
				e, ok := err.(*Error)
				if !ok || e.Status != tc.status {
					t.Fatalf("got %v, want %d", err, tc.status)
				}
				return
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestOriginForm(t *testing.T) {
	cases := []struct {
		target, path, query string
		ok, err             bool
	}{
		{target: "/a/b?x=1&y", path: "/a/b", query: "x=1&y", ok: true},
		{target: "/%2e%2E/", path: "/%2e%2E/", ok: true},
		{target: "/a%zz", err: true},
		{target: "/a%2", err: true},
		{target: "*"},
		{target: "http://h/a"},
		{target: "/a{b}"}, // outside RFC 3986: left to net/http
	}
	for _, tc := range cases {
		p, q, ok, err := OriginForm([]byte(tc.target))
		if ok != tc.ok || (err != nil) != tc.err || string(p) != tc.path || string(q) != tc.query {
			t.Errorf("%q: %q %q %v %v", tc.target, p, q, ok, err)
		}
	}
}

func TestReadChunkSize(t *testing.T) {
	cases := []struct {
		line string
		n    int64
		ok   bool
	}{
		{"1a\r\n", 26, true},
		{"1A;ext=\"v\"\r\n", 26, true},
		{"0\r\n", 0, true},
		{"fffffffffffffff\r\n", 1<<60 - 1, true},
		{"1000000000000000\r\n", 0, false},
		{"-1\r\n", 0, false},
		{"\r\n", 0, false},
		{"1 x\r\n", 0, false},
		{"1\n", 0, false},
		{"1;a\rb\r\n", 0, false},
	}
	for _, tc := range cases {
		n, err := ReadChunkSize(bufio.NewReader(strings.NewReader(tc.line)))
		if (err == nil) != tc.ok || n != tc.n {
			t.Errorf("%q: %d %v", tc.line, n, err)
		}
	}
}

// FuzzParseRequest: the parser never panics, and whatever it accepts with
// an origin-form target (what the fast path serves), net/http's reader (the upstream's view, and the one the waypoint hands
// connections over to) accepts with the same method, target, host and
// body framing. A disagreement is a desync.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := FindHeadEnd(data, 0)
		if err != nil {
			return
		}
		var r Request
		if ParseRequest(&r, data[:n]) != nil {
			return
		}
		if _, _, origin, _ := OriginForm(r.Target); !origin {
			return // other target forms are handed to net/http, which judges them itself
		}
		std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("we accept, net/http rejects (%v):\n%q", err, data[:n])
		}
		if std.Method != string(r.Method) || std.RequestURI != string(r.Target) {
			t.Fatalf("request line differs: %s %s vs %s %s", std.Method, std.RequestURI, r.Method, r.Target)
		}
		if std.Host != string(r.Host) {
			t.Fatalf("host differs: %q vs %q", std.Host, r.Host)
		}
		chunked := len(std.TransferEncoding) > 0 && std.TransferEncoding[0] == "chunked"
		if chunked != r.Chunked {
			t.Fatalf("chunked: net/http %v, we %v", chunked, r.Chunked)
		}
		if !r.Chunked && max(r.ContentLength, 0) != std.ContentLength {
			t.Fatalf("Content-Length: net/http %d, we %d", std.ContentLength, r.ContentLength)
		}
		_, _ = io.Copy(io.Discard, std.Body)
	})
}

// FuzzParseResponse: an upstream's head never panics the parser, and an
// accepted Content-Length or chunked framing agrees with net/http's.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200\r\n\r\nuntil close",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := FindHeadEnd(data, 0)
		if err != nil {
			return
		}
		var r Response
		if ParseResponse(&r, data[:n]) != nil {
			return
		}
		std, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if err != nil {
			t.Fatalf("we accept, net/http rejects (%v):\n%q", err, data[:n])
		}
		if std.StatusCode != r.Status {
			t.Fatalf("status %d vs %d", std.StatusCode, r.Status)
		}
		if r.ContentLength >= 0 && std.ContentLength >= 0 && r.ContentLength != std.ContentLength && r.Status >= 200 && r.Status != 204 && r.Status != 304 {
			t.Fatalf("Content-Length: net/http %d, we %d", std.ContentLength, r.ContentLength)
		}
	})
}
