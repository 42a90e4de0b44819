package waypoint

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

// headField is one field line; name and value are views into the buffer,
// the value without surrounding whitespace.
type headField struct{ name, value []byte }

// reqHead is a parsed request head.
type reqHead struct {
	method, target []byte
	minor          int // HTTP/1.minor
	fields         []headField

	host          []byte
	hostCount     int
	contentLength int64 // -1: none
	chunked       bool
	close         bool // Connection: close, or HTTP/1.0 without keep-alive
	keepAlive10   bool // HTTP/1.0 with Connection: keep-alive
	upgrade       bool // Connection: upgrade with an Upgrade field
	expect        bool
	teTrailers    bool // TE: trailers
	connTokens    [][]byte
	xffCount      int
	headLen       int // bytes of the head, final CRLF included
}

// parseError is a request the fast path answers itself and then closes.
type parseError struct {
	status int
	msg    string
}

func (e *parseError) Error() string { return e.msg }

var (
	errNeedMore     = errors.New("incomplete head")
	errHeadTooLarge = &parseError{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large\n"}
)

func badRequest(msg string) *parseError {
	return &parseError{http.StatusBadRequest, msg}
}

// findHeadEnd returns the length of the head in b (through the empty line),
// errNeedMore if it is not complete yet, or an error for a bare LF.
func findHeadEnd(b []byte, from int) (int, error) {
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
	return 0, errNeedMore
}

// parseRequestHead parses b[:n], the complete head found by findHeadEnd.
func parseRequestHead(h *reqHead, b []byte) error {
	*h = reqHead{fields: h.fields[:0], connTokens: h.connTokens[:0], contentLength: -1, headLen: len(b)}
	line, rest := cutLine(b)
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line\n")
	}
	h.method = line[:sp1]
	if !isToken(h.method) {
		return badRequest("malformed method\n")
	}
	line = line[sp1+1:]
	sp2 := bytes.IndexByte(line, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line\n")
	}
	h.target = line[:sp2]
	for _, c := range h.target {
		if c <= ' ' || c >= 0x7f {
			return badRequest("malformed request target\n")
		}
	}
	proto := line[sp2+1:]
	if len(proto) != 8 || string(proto[:7]) != "HTTP/1." || proto[7] < '0' || proto[7] > '9' {
		if len(proto) == 8 && string(proto[:5]) == "HTTP/" && proto[5] >= '2' && proto[5] <= '9' && proto[6] == '.' {
			return &parseError{http.StatusHTTPVersionNotSupported, "HTTP version not supported\n"}
		}
		return badRequest("malformed HTTP version\n")
	}
	h.minor = int(proto[7] - '0')
	if err := parseFields(&h.fields, rest); err != nil {
		return err
	}
	var te teState
	connClose, connKeepAlive, connUpgrade, hasUpgrade := false, false, false, false
	for i := range h.fields {
		f := &h.fields[i]
		switch {
		case equalFold(f.name, "host"):
			h.hostCount++
			h.host = f.value
		case equalFold(f.name, "content-length"):
			n, ok := parseContentLength(f.value)
			if !ok {
				return badRequest("invalid Content-Length\n")
			}
			if h.contentLength >= 0 && h.contentLength != n {
				return badRequest("conflicting Content-Length fields\n")
			}
			h.contentLength = n
		case equalFold(f.name, "transfer-encoding"):
			if err := te.add(f.value); err != nil {
				return err
			}
		case equalFold(f.name, "connection"):
			for tok := range tokens(f.value) {
				switch {
				case equalFold(tok, "close"):
					connClose = true
				case equalFold(tok, "keep-alive"):
					connKeepAlive = true
				case equalFold(tok, "upgrade"):
					connUpgrade = true
				}
				h.connTokens = append(h.connTokens, tok)
			}
		case equalFold(f.name, "upgrade"):
			hasUpgrade = true
		case equalFold(f.name, "expect"):
			h.expect = true
		case equalFold(f.name, "te"):
			for tok := range tokens(f.value) {
				if equalFold(tok, "trailers") {
					h.teTrailers = true
				}
			}
		case equalFold(f.name, "x-forwarded-for"):
			h.xffCount++
		}
	}
	if h.minor >= 1 && h.hostCount != 1 {
		return badRequest("an HTTP/1.1 request needs exactly one Host field\n")
	}
	if h.hostCount > 1 {
		return badRequest("more than one Host field\n")
	}
	if !validHost(h.host) {
		return badRequest("invalid Host\n")
	}
	if te.present {
		if h.minor == 0 {
			return badRequest("Transfer-Encoding in an HTTP/1.0 request\n")
		}
		if h.contentLength >= 0 {
			return badRequest("both Content-Length and Transfer-Encoding\n")
		}
		if err := te.check(); err != nil {
			return err
		}
		h.chunked = true
	}
	h.close = connClose || (h.minor == 0 && !connKeepAlive)
	h.keepAlive10 = h.minor == 0 && connKeepAlive && !connClose
	h.upgrade = connUpgrade && hasUpgrade
	return nil
}

// parseFields parses field lines up to the empty line.
func parseFields(fields *[]headField, b []byte) error {
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
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return badRequest("control character in a field value\n")
			}
		}
		*fields = append(*fields, headField{name: name, value: value})
	}
}

// cutLine splits b at the first CRLF (findHeadEnd guaranteed every LF has its CR).
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
	for tok := range tokens(v) {
		n++
		if t.chunkedLast {
			t.chunkedLast = false // something follows chunked
			t.chunkedSeen = true
		}
		switch {
		case equalFold(tok, "chunked"):
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
		return &parseError{http.StatusNotImplemented, "unsupported transfer coding\n"}
	}
	return nil
}

// tokens yields the comma-separated elements of a list value, trimmed.
func tokens(v []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			i := bytes.IndexByte(v, ',')
			var tok []byte
			if i < 0 {
				tok, v = v, nil
			} else {
				tok, v = v[:i], v[i+1:]
			}
			if tok = trimOWS(tok); len(tok) > 0 && !yield(tok) {
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

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares an ASCII field name with a lower-case literal.
func equalFold(b []byte, lower string) bool {
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
func equalFoldBS(b []byte, s string) bool {
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

// originForm classifies a request target. It returns the escaped path and
// the raw query of an origin-form target ("/p?q"), and ok=false for the
// other forms (absolute, authority, asterisk) and for characters outside
// RFC 3986, which the fast path leaves to net/http. A malformed
// percent-escape is an error.
func originForm(t []byte) (path, query []byte, ok bool, err error) {
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

// respHead is a parsed response head.
type respHead struct {
	status        int
	fields        []headField
	contentLength int64 // -1: none
	chunked       bool
	close         bool
	headLen       int
}

// parseResponseHead parses an upstream response head (complete, found by
// findHeadEnd). The upstream is not trusted either: ambiguous framing is an
// error (502) and the connection is not reused.
func parseResponseHead(h *respHead, b []byte) error {
	*h = respHead{fields: h.fields[:0], contentLength: -1, headLen: len(b)}
	line, rest := cutLine(b)
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errors.New("malformed status line")
	}
	minor := line[7]
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errors.New("malformed status code")
		}
	}
	h.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if h.status < 100 {
		return errors.New("malformed status code")
	}
	if err := parseFields(&h.fields, rest); err != nil {
		return errors.New(err.Error())
	}
	var te teState
	for i := range h.fields {
		f := &h.fields[i]
		switch {
		case equalFold(f.name, "content-length"):
			n, ok := parseContentLength(f.value)
			if !ok || (h.contentLength >= 0 && h.contentLength != n) {
				return errors.New("invalid Content-Length in the response")
			}
			h.contentLength = n
		case equalFold(f.name, "transfer-encoding"):
			if err := te.add(f.value); err != nil {
				return errors.New("invalid Transfer-Encoding in the response")
			}
		case equalFold(f.name, "connection"):
			for tok := range tokens(f.value) {
				if equalFold(tok, "close") {
					h.close = true
				}
			}
		}
	}
	if minor == '0' {
		h.close = true // we never ask an HTTP/1.0 server for keep-alive
	}
	if te.present {
		if h.contentLength >= 0 {
			return errors.New("response with both Content-Length and Transfer-Encoding")
		}
		if te.check() != nil {
			// RFC 9112 §6.3: not chunked last → read until close.
			h.close = true
		} else {
			h.chunked = true
		}
	}
	return nil
}
