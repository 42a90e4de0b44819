package waypoint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wayfabric/wayfabric/proxy/waypoint/h1"
)

// The fast HTTP/1.1 path (docs/perf-waypoint.md): one goroutine per inner
// stream, request heads parsed in place into a reused buffer by a strict
// parser (h1parse.go), the upstream request written straight from the
// parsed fields, the upstream response head copied through, and each
// response written with one write. No *http.Request, no header maps.
//
// Anything it does not do itself — HTTP/2 (the preface), absolute-form and
// asterisk-form targets, upgrades, Expect, chunked uploads, routes with
// retries, timeouts or mirrors, h2c backends — is handed over, connection
// and all, to the net/http server, with the bytes already read replayed.
// The strict parser has validated the head before any handover, so
// net/http only ever sees what both parsers accept.

const (
	connActive int32 = iota
	connIdle
	connDrained // drain closed it while idle
)

type h1conn struct {
	p     *Proxy
	sc    *streamConn
	buf   []byte // received bytes in buf[r:w]
	r, w  int
	bw    *bufio.Writer
	state atomic.Int32
	first bool
	srcIP string // original client, for X-Forwarded-For

	req     h1.Request
	resp    h1.Response
	out     []outField
	scratch []byte
	decPath string
	// respInBr: bytes of the response head still in the upstream reader;
	// respBuf holds a head too large for it.
	respInBr int
	respBuf  []byte
	up       *h1Conn // upstream connection in use (guarded by p.l4mu), closed on forced shutdown
}

var (
	h1ReadBufs  = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}
	h1WriteBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

var errHandover = errors.New("handed over to net/http")

// serveH1 serves an HTTP/1.x (or, by handover, HTTP/2) inner stream until
// it ends.
func (p *Proxy) serveH1(ctx context.Context, sc *streamConn) error {
	c := &h1conn{p: p, sc: sc, first: true}
	if sc.src.IsValid() {
		c.srcIP = sc.src.Addr().String()
	}
	bp := h1ReadBufs.Get().(*[]byte)
	c.buf = *bp
	c.bw = h1WriteBufs.Get().(*bufio.Writer)
	c.bw.Reset(sc)
	p.trackH1(c, true)
	err := c.serve(ctx)
	p.trackH1(c, false)
	c.bw.Reset(nil)
	h1WriteBufs.Put(c.bw)
	if len(c.buf) == 4<<10 {
		*bp = c.buf
		h1ReadBufs.Put(bp)
	}
	if errors.Is(err, errHandover) {
		return p.handover(ctx, sc)
	}
	sc.Close()
	return nil
}

func (c *h1conn) serve(ctx context.Context) error {
	for {
		err := c.readHead()
		if err != nil {
			var pe *h1.Error
			if errors.As(err, &pe) {
				c.writeSimple(pe.Status, pe.Msg, true, nil)
			}
			return err
		}
		if c.first {
			c.first = false
			if bytes.HasPrefix(c.buf[c.r:c.w], []byte("PRI * HTTP/2.0\r\n")) {
				return c.handoverNow()
			}
		}
		if err := h1.ParseRequest(&c.req, c.buf[c.r:c.r+c.req.HeadLen]); err != nil {
			var pe *h1.Error
			if errors.As(err, &pe) {
				c.writeSimple(pe.Status, pe.Msg, true, nil)
			}
			return err
		}
		keep, err := c.serveRequest(ctx)
		if err != nil || !keep {
			return err
		}
	}
}

// readHead waits for a complete request head in buf[r:] and sets
// c.req.HeadLen. Idle time is bounded by IdleTimeout, the head by
// ReadHeaderTimeout from its first byte (slowloris), its size by
// MaxHeaderBytes (431).
func (c *h1conn) readHead() error {
	cfg := &c.p.cfg
	scanned := 0
	// Waiting for a request after one was served: idle keep-alive, which
	// drain closes. A new stream is never idle: its first request is served
	// even during drain (with Connection: close), as net/http does.
	idle := c.r == c.w && !c.first
	if c.r == c.w {
		c.r, c.w = 0, 0
		_ = c.sc.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
	}
	if idle {
		c.state.Store(connIdle)
		if c.p.draining.Load() {
			return io.EOF
		}
	}
	headDeadline := false
	for {
		if c.r < c.w {
			n, err := h1.FindHeadEnd(c.buf[c.r:c.w], scanned)
			if err == nil {
				if n > cfg.MaxHeaderBytes {
					return h1.ErrHeadTooLarge
				}
				c.req.HeadLen = n
				if headDeadline {
					_ = c.sc.SetReadDeadline(time.Time{})
				}
				return nil
			}
			if err != h1.ErrNeedMore {
				return err
			}
			scanned = max(c.w-c.r-3, 0)
			if c.w-c.r > cfg.MaxHeaderBytes {
				return h1.ErrHeadTooLarge
			}
			if !headDeadline {
				// Part of a head is in: from now on the slowloris bound applies.
				headDeadline = true
				_ = c.sc.SetReadDeadline(time.Now().Add(cfg.ReadHeaderTimeout))
			}
		}
		c.makeRoom()
		n, err := c.sc.Read(c.buf[c.w:])
		if idle {
			idle = false
			if !c.state.CompareAndSwap(connIdle, connActive) {
				// Drain closed this idle connection; a request that raced with
				// it is still served (with Connection: close).
				if n == 0 {
					return io.EOF
				}
				c.state.Store(connActive)
				_ = c.sc.SetReadDeadline(time.Now().Add(cfg.ReadHeaderTimeout))
				headDeadline = true
			}
		}
		c.w += n
		if err != nil {
			if n > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return err
		}
	}
}

// makeRoom compacts or grows buf so that a read can append.
func (c *h1conn) makeRoom() {
	if c.w < len(c.buf) {
		return
	}
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
		if c.w < len(c.buf) {
			return
		}
	}
	nb := make([]byte, min(2*len(c.buf), c.p.cfg.MaxHeaderBytes+4<<10))
	if len(nb) <= len(c.buf) {
		nb = make([]byte, len(c.buf)+4<<10)
	}
	copy(nb, c.buf[:c.w])
	c.buf = nb
}

// handoverNow gives the connection to net/http with the unconsumed bytes.
func (c *h1conn) handoverNow() error {
	c.p.handovers.Add(1)
	if err := c.bw.Flush(); err != nil {
		return err
	}
	c.sc.pending = append([]byte(nil), c.buf[c.r:c.w]...)
	_ = c.sc.SetReadDeadline(time.Time{})
	return errHandover
}

// handover serves the rest of a stream with net/http (main server, or
// the keep-alive-off one during drain).
func (p *Proxy) handover(ctx context.Context, sc *streamConn) error {
	ln := p.mainLn
	if p.draining.Load() {
		ln = p.drainLn
	}
	done := make(chan struct{})
	sc.onClose = func() { close(done) }
	if !ln.push(ctx, sc) {
		// The main server has begun shutting down between the check and the push.
		if !p.drainLn.push(ctx, sc) {
			sc.Close()
			return ErrClosed
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		sc.Close()
		<-done
	}
	return nil
}

func (p *Proxy) trackH1(c *h1conn, add bool) {
	p.l4mu.Lock()
	defer p.l4mu.Unlock()
	if add {
		p.h1conns[c] = struct{}{}
	} else {
		delete(p.h1conns, c)
	}
}

// closeIdleH1 closes fast-path connections waiting for a request (drain).
func (p *Proxy) closeIdleH1() {
	p.l4mu.Lock()
	defer p.l4mu.Unlock()
	for c := range p.h1conns {
		if c.state.CompareAndSwap(connIdle, connDrained) {
			_ = c.sc.SetReadDeadline(aLongTimeAgo)
		}
	}
}

// closeH1 closes every fast-path connection (shutdown deadline).
func (p *Proxy) closeH1() {
	p.l4mu.Lock()
	defer p.l4mu.Unlock()
	for c := range p.h1conns {
		_ = c.sc.Conn.Close()
		if c.up != nil {
			c.up.nc.Close()
		}
	}
}

// consume drops n bytes of the current request (head and buffered body).
func (c *h1conn) consume(n int) { c.r += n }

// writeSimple answers with a small plain-text body (or none for a
// redirect), closing the connection afterwards if asked.
func (c *h1conn) writeSimple(status int, body string, closeConn bool, extra func(bw *bufio.Writer)) {
	bw := c.bw
	writeStatusLine(bw, status)
	if body != "" {
		bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	}
	if extra != nil {
		extra(bw)
	}
	if status != http.StatusNoContent && status != http.StatusNotModified {
		// RFC 9110 §8.6: a 204 or 304 carries no Content-Length (of its own).
		bw.WriteString("Content-Length: ")
		c.scratch = appendInt(c.scratch[:0], int64(len(body)))
		bw.Write(c.scratch)
		bw.WriteString("\r\n")
	}
	bw.WriteString("Date: ")
	bw.WriteString(httpDate())
	if closeConn {
		bw.WriteString("\r\nConnection: close")
	} else if c.req.KeepAlive10 {
		bw.WriteString("\r\nConnection: keep-alive")
	}
	bw.WriteString("\r\n\r\n")
	if !bytes.Equal(c.req.Method, []byte("HEAD")) {
		bw.WriteString(body)
	}
	_ = bw.Flush()
}

func writeStatusLine(bw *bufio.Writer, status int) {
	bw.WriteString("HTTP/1.1 ")
	var b [3]byte
	b[0], b[1], b[2] = byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10)
	bw.Write(b[:])
	bw.WriteByte(' ')
	text := http.StatusText(status)
	if text == "" {
		text = "status code " + string(b[:])
	}
	bw.WriteString(text)
	bw.WriteString("\r\n")
}

func appendInt(b []byte, n int64) []byte {
	if n == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}

// httpDate is the current Date header value, rendered once per second.
func httpDate() string {
	now := time.Now().Unix()
	if d := cachedDate.Load(); d != nil && d.sec == now {
		return d.text
	}
	d := &dateText{sec: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]

// isClosedConn: errors that only mean the peer went away.
func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) || isReset(err)
}
