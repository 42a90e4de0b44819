// Package h1 parses HTTP/1.1 message heads and chunked framing strictly,
// for the waypoint's fast path.
package h1

import (
	"bytes"
	"errors"
	"net/http"
)

// A strict HTTP/1.1 message-head parser (RFC 9112 §2–§6) for the fast
// path. It parses in place: names and values are sub-slices of the buffer,
// nothing is allocated. Everything RFC 9112 lets a recipient either accept
// or reject (bare LF, obs-fold, whitespace before the colon, comma-joined
// Content-Length, ...) is rejected: a proxy that is laxer than the server
// behind it is how request smuggling starts.

// Field is one field line; name and value are views into the buffer,
// the value without surrounding whitespace.
type Field struct{ Name, Value []byte }

// Request is a parsed request head.
type Request struct {
	Method, Target []byte
	Minor          int // HTTP/1.minor
	Fields         []Field

	Host          []byte
	HostCount     int
	ContentLength int64 // -1: none
	Chunked       bool
	Close         bool // Connection: close, or HTTP/1.0 without keep-alive
	KeepAlive10   bool // HTTP/1.0 with Connection: keep-alive
	Upgrade       bool // Connection: upgrade with an Upgrade field
	Expect        bool
	TeTrailers    bool // TE: trailers
	ConnTokens    [][]byte
	XffCount      int
	HeadLen       int // bytes of the head, final CRLF included
}

// Error is a malformed request: answer Status with Msg, then close.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

var (
	// ErrNeedMore: the head is not complete yet.
	ErrNeedMore = errors.New("incomplete head")
	// ErrHeadTooLarge: 431.
	ErrHeadTooLarge = &Error{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large\n"}
)

func badRequest(msg string) *Error {
	return &Error{http.StatusBadRequest, msg}
}

// FindHeadEnd returns the length of the head in b (through the empty line),
// ErrNeedMore if it is not complete yet, or an error for a bare LF.
func FindHeadEnd(b []byte, from int) (int, error) {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i == 0 || b[i-1] != '\r' {
			return 0, badRequest("bare LF in the request head\n")
		}
		// An empty line: the head ends. The request line itself is never empty
		// (RFC 9112 §2.2 allows ignoring leading empty lines; we do not).
		if i >= 3 && b[i-2] == '\n' && b[i-3] == '\r' {
			return i + 1, nil
		}
	}
	return 0, ErrNeedMore
}

// ParseRequest parses b[:n], the complete head found by FindHeadEnd.
func ParseRequest(h *Request, b []byte) error {
	*h = Request{Fields: h.Fields[:0], ConnTokens: h.ConnTokens[:0], ContentLength: -1, HeadLen: len(b)}
	line, rest := cutLine(b)
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line\n")
	}
	h.Method = line[:sp1]
	if !isToken(h.Method) {
		return badRequest("malformed method\n")
	}
	line = line[sp1+1:]
	sp2 := bytes.IndexByte(line, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line\n")
	}
	h.Target = line[:sp2]
	for _, c := range h.Target {
		if c <= ' ' || c >= 0x7f {
			return badRequest("malformed request target\n")
		}
	}
	proto := line[sp2+1:]
	if len(proto) != 8 || string(proto[:7]) != "HTTP/1." || proto[7] < '0' || proto[7] > '9' {
		if len(proto) == 8 && string(proto[:5]) == "HTTP/" && proto[5] >= '2' && proto[5] <= '9' && proto[6] == '.' {
			return &Error{http.StatusHTTPVersionNotSupported, "HTTP version not supported\n"}
		}
		return badRequest("malformed HTTP version\n")
	}
	h.Minor = int(proto[7] - '0')
	if err := ParseFields(&h.Fields, rest); err != nil {
		return err
	}
	var te teState
	connClose, connKeepAlive, connUpgrade, hasUpgrade := false, false, false, false
	for i := range h.Fields {
		f := &h.Fields[i]
		switch {
		case EqualFold(f.Name, "host"):
			h.HostCount++
			h.Host = f.Value
		case EqualFold(f.Name, "content-length"):
			n, ok := parseContentLength(f.Value)
			if !ok {
				return badRequest("invalid Content-Length\n")
			}
			if h.ContentLength >= 0 && h.ContentLength != n {
				return badRequest("conflicting Content-Length fields\n")
			}
			h.ContentLength = n
		case EqualFold(f.Name, "transfer-encoding"):
			if err := te.add(f.Value); err != nil {
				return err
			}
		case EqualFold(f.Name, "connection"):
			for tok := range Tokens(f.Value) {
				switch {
				case EqualFold(tok, "close"):
					connClose = true
				case EqualFold(tok, "keep-alive"):
					connKeepAlive = true
				case EqualFold(tok, "upgrade"):
					connUpgrade = true
				}
				h.ConnTokens = append(h.ConnTokens, tok)
			}
		case EqualFold(f.Name, "upgrade"):
			hasUpgrade = true
		case EqualFold(f.Name, "expect"):
			h.Expect = true
		case EqualFold(f.Name, "te"):
			for tok := range Tokens(f.Value) {
				if EqualFold(tok, "trailers") {
					h.TeTrailers = true
				}
			}
		case EqualFold(f.Name, "x-forwarded-for"):
			h.XffCount++
		}
	}
	if h.Minor >= 1 && h.HostCount != 1 {
		return badRequest("an HTTP/1.1 request needs exactly one Host field\n")
	}
	if h.HostCount > 1 {
		return badRequest("more than one Host field\n")
	}
	if !validHost(h.Host) {
		return badRequest("invalid Host\n")
	}
	if te.present {
		if h.Minor == 0 {
			return badRequest("Transfer-Encoding in an HTTP/1.0 request\n")
		}
		if h.ContentLength >= 0 {
			return badRequest("both Content-Length and Transfer-Encoding\n")
		}
		if err := te.check(); err != nil {
			return err
		}
		h.Chunked = true
	}
	h.Close = connClose || (h.Minor == 0 && !connKeepAlive)
	h.KeepAlive10 = h.Minor == 0 && connKeepAlive && !connClose
	h.Upgrade = connUpgrade && hasUpgrade
	return nil
}

// ParseFields parses field lines up to the empty line.
func ParseFields(fields *[]Field, b []byte) error {
	for {
		line, rest := cutLine(b)
		if len(line) == 0 {
			return nil
		}
		b = rest
		if line[0] == ' ' || line[0] == '\t' {
			return badRequest("obs-fold or whitespace before a field line\n")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return badRequest("malformed field line\n")
		}
		name := line[:colon]
		if !isToken(name) {
			return badRequest("invalid field name\n")
		}
		value := TrimOWS(line[colon+1:])
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return badRequest("control character in a field value\n")
			}
		}
		*fields = append(*fields, Field{Name: name, Value: value})
	}
}

// cutLine splits b at the first CRLF (FindHeadEnd guaranteed every LF has its CR).
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return b[:i-1], b[i+1:]
}

// teState checks Transfer-Encoding over all its field lines (RFC 9112 §6.1):
// chunked must be the final coding and appear once; we decode no other
// coding, so anything before it is 501.
type teState struct {
	present, chunkedSeen, chunkedLast, other bool
}

func (t *teState) add(v []byte) error {
	t.present = true
	n := 0
	for tok := range Tokens(v) {
		n++
		if t.chunkedLast {
			t.chunkedLast = false // something follows chunked
			t.chunkedSeen = true
		}
		switch {
		case EqualFold(tok, "chunked"):
			if t.chunkedSeen || t.chunkedLast {
				return badRequest("chunked applied more than once\n")
			}
			t.chunkedLast = true
		default:
			t.other = true
		}
	}
	if n == 0 || bytes.Count(v, []byte(",")) >= n {
		return badRequest("empty transfer coding\n")
	}
	return nil
}

func (t *teState) check() error {
	switch {
	case !t.chunkedLast:
		return badRequest("chunked is not the final transfer coding\n")
	case t.chunkedSeen:
		return badRequest("chunked applied more than once\n")
	case t.other:
		return &Error{http.StatusNotImplemented, "unsupported transfer coding\n"}
	}
	return nil
}

// Tokens yields the comma-separated elements of a list value, trimmed.
func Tokens(v []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			i := bytes.IndexByte(v, ',')
			var tok []byte
			if i < 0 {
				tok, v = v, nil
			} else {
				tok, v = v[:i], v[i+1:]
			}
			if tok = TrimOWS(tok); len(tok) > 0 && !yield(tok) {
				return
			}
		}
	}
}

// parseContentLength accepts 1*DIGIT only (no sign, no list, no hex).
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFold compares an ASCII field name with a lower-case literal.
func EqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// equalFoldString compares two ASCII strings case-insensitively.
func EqualFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// validHost accepts what may appear in a Host field: reg-name, IPv4,
// [IPv6] and a port. Empty is valid (an HTTP/1.0 request without Host).
func validHost(h []byte) bool {
	for _, c := range h {
		switch {
		case tchar[c] && c != '*' && c != '`' && c != '^' && c != '|' && c != '#':
		case c == ':' || c == '[' || c == ']' || c == '@' || c == ';' || c == '=' || c == ',' || c == '(' || c == ')':
		default:
			return false
		}
	}
	return true
}

// OriginForm classifies a request target. It returns the escaped path and
// the raw query of an origin-form target ("/p?q"), and ok=false for the
// other forms (absolute, authority, asterisk) and for characters outside
// RFC 3986, which the fast path leaves to net/http. A malformed
// percent-escape is an error.
func OriginForm(t []byte) (path, query []byte, ok bool, err error) {
	if len(t) == 0 || t[0] != '/' {
		return nil, nil, false, nil
	}
	q := -1
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case uriChar[c]:
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return nil, nil, false, badRequest("malformed percent-encoding in the request target\n")
			}
			i += 2
		case c == '?':
			if q < 0 {
				q = i
			}
		default:
			return nil, nil, false, nil
		}
	}
	if q < 0 {
		return t, nil, true, nil
	}
	return t[:q], t[q+1:], true, nil
}

// uriChar: unreserved, sub-delims, ":", "@", "/" (RFC 3986 pchar and path).
var uriChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Response is a parsed response head.
type Response struct {
	Status        int
	Fields        []Field
	ContentLength int64 // -1: none
	Chunked       bool
	Close         bool
	HeadLen       int
}

// ParseResponse parses an upstream response head (complete, found by
// FindHeadEnd). The upstream is not trusted either: ambiguous framing is an
// error (502) and the connection is not reused.
func ParseResponse(h *Response, b []byte) error {
	*h = Response{Fields: h.Fields[:0], ContentLength: -1, HeadLen: len(b)}
	line, rest := cutLine(b)
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errors.New("malformed status line")
	}
	minor := line[7]
	if minor < '0' || minor > '9' {
		return errors.New("malformed HTTP version")
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errors.New("malformed status code")
		}
	}
	h.Status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if h.Status < 100 {
		return errors.New("malformed status code")
	}
	if err := ParseFields(&h.Fields, rest); err != nil {
		return errors.New(err.Error())
	}
	var te teState
	for i := range h.Fields {
		f := &h.Fields[i]
		switch {
		case EqualFold(f.Name, "content-length"):
			n, ok := parseContentLength(f.Value)
			if !ok || (h.ContentLength >= 0 && h.ContentLength != n) {
				return errors.New("invalid Content-Length in the response")
			}
			h.ContentLength = n
		case EqualFold(f.Name, "transfer-encoding"):
			if err := te.add(f.Value); err != nil {
				return errors.New("invalid Transfer-Encoding in the response")
			}
		case EqualFold(f.Name, "connection"):
			for tok := range Tokens(f.Value) {
				if EqualFold(tok, "close") {
					h.Close = true
				}
			}
		}
	}
	if minor == '0' {
		h.Close = true // we never ask an HTTP/1.0 server for keep-alive
	}
	if te.present {
		if h.ContentLength >= 0 {
			return errors.New("response with both Content-Length and Transfer-Encoding")
		}
		if err := te.check(); err != nil {
			// RFC 9112 §6.3 would read such a body until close, but we could
			// neither decode the coding nor pass it on (Transfer-Encoding is
			// hop-by-hop): refuse rather than forward coded bytes as the body.
			return errors.New("unsupported transfer coding in the response")
		}
		h.Chunked = true
	}
	return nil
}

// HopByHop: fields for one connection only (RFC 9110 §7.6.1), which a
// proxy never forwards, plus the framing fields it writes itself.
func HopByHop(n []byte) bool {
	switch len(n) {
	case 2:
		return EqualFold(n, "te")
	case 7:
		return EqualFold(n, "upgrade") || EqualFold(n, "trailer")
	case 10:
		return EqualFold(n, "connection") || EqualFold(n, "keep-alive")
	case 14:
		return EqualFold(n, "content-length")
	case 16:
		return EqualFold(n, "proxy-connection")
	case 17:
		return EqualFold(n, "transfer-encoding")
	case 18:
		return EqualFold(n, "proxy-authenticate")
	case 19:
		return EqualFold(n, "proxy-authorization")
	}
	return false
}

// Listed reports whether name is one of tokens, ignoring case.
func Listed(tokens [][]byte, name []byte) bool {
	for _, t := range tokens {
		if bytes.EqualFold(t, name) {
			return true
		}
	}
	return false
}
