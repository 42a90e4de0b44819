package waypoint

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"slices"

	"github.com/wayfabric/wayfabric/proxy/waypoint/h1"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// maxResponseHead bounds an upstream response head (net/http's client
// allows 10 MB; 1 MiB is plenty and bounds memory).
const maxResponseHead = 1 << 20

var errResponseHeadTooLarge = errors.New("upstream response head over 1 MiB")

// outNames lists the names of the fields in c.out, in canonical form (for
// a CORS filter that must spell out exposeHeaders "*").
func (c *h1conn) outNames() []string {
	names := make([]string, 0, len(c.out))
	for i := range c.out {
		f := &c.out[i]
		if f.nameB != nil {
			names = append(names, textproto.CanonicalMIMEHeaderKey(string(f.nameB)))
		} else {
			names = append(names, textproto.CanonicalMIMEHeaderKey(f.nameS))
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(names)))
}

// readResponseHead reads the answer's head into c.resp, skipping interim
// 1xx answers. The head's fields point into uc.br until c.respInBr bytes
// are discarded; a head larger than uc.br's buffer is read line by line
// into c.respBuf instead (c.respInBr is then 0).
func (c *h1conn) readResponseHead(uc *h1Conn) error {
	for {
		head, inBr, err := c.peekHead(uc.br)
		if err != nil {
			return err
		}
		if err := h1.ParseResponse(&c.resp, head); err != nil {
			return err
		}
		c.respInBr = inBr
		switch {
		case c.resp.Status == http.StatusSwitchingProtocols:
			return errors.New("upstream switched protocols unasked")
		case c.resp.Status < 200:
			_, _ = uc.br.Discard(inBr)
			continue
		}
		return nil
	}
}

// peekHead returns the complete head at the start of br: in br's buffer,
// not consumed (inBr = its length), or, if it does not fit, copied out of
// br line by line (inBr = 0).
func (c *h1conn) peekHead(br *bufio.Reader) (head []byte, inBr int, err error) {
	scanned := 0
	for {
		n := br.Buffered()
		if n == 0 {
			if _, err := br.Peek(1); err != nil {
				return nil, 0, err
			}
			continue
		}
		b, _ := br.Peek(n)
		end, err := h1.FindHeadEnd(b, scanned)
		if err == nil {
			return b[:end], end, nil
		}
		if err != h1.ErrNeedMore {
			return nil, 0, errors.New("bare LF in the upstream response head")
		}
		scanned = max(n-3, 0)
		if n >= br.Size() {
			head, err := readLongHead(br, c.respBuf[:0])
			c.respBuf = head[:0]
			return head, 0, err
		}
		if _, err := br.Peek(n + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, 0, err
		}
	}
}

// readLongHead consumes a head line by line into buf, up to maxResponseHead.
func readLongHead(br *bufio.Reader, buf []byte) ([]byte, error) {
	lineStart := 0
	for {
		part, err := br.ReadSlice('\n')
		buf = append(buf, part...)
		if len(buf) > maxResponseHead {
			return nil, errResponseHeadTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // a line longer than br's buffer: keep collecting it
		}
		if err != nil {
			return nil, err
		}
		if len(buf)-lineStart == 2 && buf[lineStart] == '\r' {
			if _, err := h1.FindHeadEnd(buf, 0); err != nil {
				return nil, errors.New("malformed upstream response head")
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// relayResponse writes the response head (hop-by-hop fields dropped,
// response modifiers applied, framing chosen for this client) and relays
// the body. keep reports whether the client connection stays open.
func (c *h1conn) relayResponse(uc *h1Conn, dec *routing.Decision) (keep, reuse bool, err error) {
	resp := &c.resp
	req := &c.req
	bw := c.bw
	noBody := bytes.Equal(req.Method, []byte("HEAD")) || resp.Status == http.StatusNoContent || resp.Status == http.StatusNotModified
	const (
		bodyNone = iota
		bodyLength
		bodyChunkedIn
		bodyUntilClose
	)
	in := bodyNone
	switch {
	case noBody:
	case resp.Chunked:
		in = bodyChunkedIn
	case resp.ContentLength >= 0:
		in = bodyLength
	default:
		in = bodyUntilClose
	}
	// Unknown length: chunked to HTTP/1.1 clients, close-delimited to 1.0.
	chunkOut := (in == bodyChunkedIn || in == bodyUntilClose) && req.Minor >= 1
	closeClient := req.Close || c.p.draining.Load() || ((in == bodyChunkedIn || in == bodyUntilClose) && !chunkOut)

	writeStatusLine(bw, resp.Status)
	// Response fields, minus hop-by-hop and Connection-listed ones.
	var connTokens [][]byte
	for i := range resp.Fields {
		if h1.EqualFold(resp.Fields[i].Name, "connection") {
			for tok := range h1.Tokens(resp.Fields[i].Value) {
				connTokens = append(connTokens, tok)
			}
		}
	}
	c.out = c.out[:0]
	hasDate := false
	for i := range resp.Fields {
		f := &resp.Fields[i]
		if h1.Listed(connTokens, f.Name) {
			continue
		}
		if h1.HopByHop(f.Name) {
			// Keep the Trailer announcement when trailers go through.
			if !(chunkOut && h1.EqualFold(f.Name, "trailer")) {
				continue
			}
		}
		if h1.EqualFold(f.Name, "date") {
			hasDate = true
		}
		c.out = append(c.out, outField{nameB: f.Name, valB: f.Value})
	}
	if dec.Backend != nil {
		c.out = applyModifier(c.out, dec.Backend.ResponseHeaders)
	}
	if dec.Match.Rule != nil {
		c.out = applyModifier(c.out, dec.Match.Rule.ResponseHeaders)
	}
	if dec.HasCORS() {
		c.out = applyModifier(c.out, dec.CORSHeaders(c.outNames))
	}
	for i := range c.out {
		c.out[i].write(bw)
	}
	if !hasDate {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	switch {
	case resp.ContentLength >= 0 && (in == bodyLength || noBody):
		bw.WriteString("Content-Length: ")
		c.scratch = appendInt(c.scratch[:0], resp.ContentLength)
		bw.Write(c.scratch)
		bw.WriteString("\r\n")
	case chunkOut && !noBody:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case closeClient:
		bw.WriteString("Connection: close\r\n")
	case req.KeepAlive10:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	_, _ = uc.br.Discard(c.respInBr) // the fields above pointed into it: written now

	reuse = !resp.Close
	switch in {
	case bodyLength:
		err = copyN(bw, uc.br, resp.ContentLength)
	case bodyChunkedIn:
		err = c.relayChunked(bw, uc.br, chunkOut)
	case bodyUntilClose:
		reuse = false
		err = relayUntilClose(bw, uc.br, chunkOut)
	}
	if err != nil {
		// Mid-body failure: the client cannot be told; cut both connections.
		return false, false, err
	}
	if chunkOut && in == bodyUntilClose {
		bw.WriteString("0\r\n\r\n")
	}
	if err := bw.Flush(); err != nil {
		return false, reuse, err
	}
	return !closeClient, reuse, nil
}

// errUpstreamBody: the upstream's body broke off or was malformed.
type errUpstreamBody struct{ err error }

func (e errUpstreamBody) Error() string { return "upstream body: " + e.err.Error() }

// copyN copies exactly n bytes from br to bw.
func copyN(bw *bufio.Writer, br *bufio.Reader, n int64) error {
	for n > 0 {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return errUpstreamBody{err}
			}
		}
		k := int(min(int64(br.Buffered()), n))
		b, _ := br.Peek(k)
		if _, err := bw.Write(b); err != nil {
			return err
		}
		_, _ = br.Discard(k)
		n -= int64(k)
	}
	return nil
}

// relayUntilClose copies until the upstream closes, flushing as data
// arrives (streams such as SSE must not be held back).
func relayUntilClose(bw *bufio.Writer, br *bufio.Reader, chunkOut bool) error {
	for {
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return errUpstreamBody{err}
			}
		}
		b, _ := br.Peek(br.Buffered())
		if chunkOut {
			writeChunkHeader(bw, len(b))
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
		if chunkOut {
			bw.WriteString("\r\n")
		}
		_, _ = br.Discard(len(b))
	}
}

func writeChunkHeader(bw *bufio.Writer, n int) {
	const hex = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = hex[n&15]
		n >>= 4
		if n == 0 {
			break
		}
	}
	bw.Write(tmp[i:])
	bw.WriteString("\r\n")
}

// relayChunked decodes the upstream's chunked body strictly (RFC 9112 §7.1)
// and re-encodes it for the client (or writes it raw to an HTTP/1.0
// client), trailers included. It flushes whenever it would wait for the
// upstream, so streamed answers (gRPC, SSE) are not held back.
func (c *h1conn) relayChunked(bw *bufio.Writer, br *bufio.Reader, chunkOut bool) error {
	for {
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil { // about to wait for the upstream
				return err
			}
		}
		size, err := h1.ReadChunkSize(br)
		if err != nil {
			return errUpstreamBody{err}
		}
		if size == 0 {
			break
		}
		if chunkOut {
			writeChunkHeader(bw, int(size))
		}
		for size > 0 {
			if br.Buffered() == 0 {
				if err := bw.Flush(); err != nil {
					return err
				}
				if _, err := br.Peek(1); err != nil {
					return errUpstreamBody{err}
				}
			}
			k := int(min(int64(br.Buffered()), size))
			b, _ := br.Peek(k)
			if _, err := bw.Write(b); err != nil {
				return err
			}
			_, _ = br.Discard(k)
			size -= int64(k)
		}
		if err := h1.ExpectCRLF(br); err != nil {
			return errUpstreamBody{err}
		}
		if chunkOut {
			bw.WriteString("\r\n")
		}
	}
	// Trailer section: field lines up to an empty line.
	if chunkOut {
		bw.WriteString("0\r\n")
	}
	total := 0
	for {
		line, err := h1.ReadLine(br, 64<<10-total)
		if err != nil {
			return errUpstreamBody{err}
		}
		total += len(line) + 2
		if len(line) == 0 {
			break
		}
		var fields []h1.Field
		field := append(append(make([]byte, 0, len(line)+4), line...), "\r\n\r\n"...) // line points into br: copy
		if err := h1.ParseFields(&fields, field); err != nil || len(fields) != 1 {
			return errUpstreamBody{errors.New("malformed trailer field")}
		}
		if chunkOut && !h1.HopByHop(fields[0].Name) {
			bw.Write(line)
			bw.WriteString("\r\n")
		}
	}
	if chunkOut {
		bw.WriteString("\r\n")
	}
	return nil
}
