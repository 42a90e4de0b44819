package waypoint

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// inlineH1Client sends HTTP/1.1 requests on pooled keep-alive connections from the
// calling goroutine. net/http's Transport runs a read loop and a write loop
// per connection and hands every request between three goroutines; doing the
// exchange inline saves those hand-offs, which are a large share of a
// proxy's CPU per request. Bodies of unknown length are still written from
// a separate goroutine so an early answer never deadlocks against an upload.
type inlineH1Client struct {
	dial        StreamDialer
	maxIdle     int
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   map[netip.AddrPort][]*h1Conn
	closed bool
}

type h1Conn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	addr     netip.AddrPort
	lastUsed time.Time
}

func newInlineH1Client(d StreamDialer, maxIdle int) *inlineH1Client {
	return &inlineH1Client{dial: d, maxIdle: maxIdle, idleTimeout: 90 * time.Second, idle: map[netip.AddrPort][]*h1Conn{}}
}

var errStaleConn = errors.New("pooled connection closed by the peer")

// RoundTrip implements http.RoundTripper for requests carrying their
// endpoint in the context (endpointKey).
func (h *inlineH1Client) RoundTrip(req *http.Request) (*http.Response, error) {
	ep, ok := req.Context().Value(endpointKey{}).(routing.Endpoint)
	if !ok {
		return nil, errors.New("waypoint: request without endpoint")
	}
	for attempt := 0; ; attempt++ {
		// The retry dials: the pool's other idle connections to the endpoint
		// were likely closed by the same event (a restart, a policy change).
		c, reused, err := h.get(req.Context(), ep, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := h.exchange(req, c)
		if err == nil {
			return resp, nil
		}
		// A kept-alive connection the server already closed fails before any
		// answer: safe to repeat once on a fresh connection if the body can be
		// sent again.
		if errors.Is(err, errStaleConn) && reused && attempt == 0 && req.Context().Err() == nil {
			if req.GetBody != nil {
				if req.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			} else if req.Body != nil && req.Body != http.NoBody {
				return nil, err
			}
			continue
		}
		return nil, err
	}
}

func (h *inlineH1Client) get(ctx context.Context, ep routing.Endpoint, fresh bool) (*h1Conn, bool, error) {
	h.mu.Lock()
	for conns := h.idle[ep.Addr]; len(conns) > 0 && !fresh; conns = h.idle[ep.Addr] {
		c := conns[len(conns)-1]
		h.idle[ep.Addr] = conns[:len(conns)-1]
		if time.Since(c.lastUsed) < h.idleTimeout && !retiring(c.nc) {
			h.mu.Unlock()
			return c, true, nil
		}
		c.nc.Close()
	}
	h.mu.Unlock()
	nc, err := h.dial.DialStream(ctx, ep)
	if err != nil {
		return nil, false, err
	}
	return &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 8<<10), addr: ep.Addr}, false, nil
}

// drainer is a connection that can say it should carry no further
// exchange: an HBONE stream whose tunnel got GOAWAY because the node proxy
// behind it is being replaced. Reusing it would put a request on a stream
// that the old proxy closes when its drain ends.
type drainer interface{ Draining() bool }

func retiring(nc net.Conn) bool {
	d, ok := nc.(drainer)
	return ok && d.Draining()
}

func (h *inlineH1Client) put(c *h1Conn) {
	c.lastUsed = time.Now()
	h.mu.Lock()
	if h.closed || len(h.idle[c.addr]) >= h.maxIdle || retiring(c.nc) {
		h.mu.Unlock()
		c.nc.Close()
		return
	}
	h.idle[c.addr] = append(h.idle[c.addr], c)
	h.mu.Unlock()
}

func (h *inlineH1Client) closeIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for addr, conns := range h.idle {
		for _, c := range conns {
			c.nc.Close()
		}
		delete(h.idle, addr)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on c and reads the answer's head. The returned body
// gives the connection back to the pool once read to the end.
func (h *inlineH1Client) exchange(req *http.Request, c *h1Conn) (*http.Response, error) {
	ctx := req.Context()
	// Cancellation unblocks reads and writes; such a connection is never reused.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.nc.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	chunked := hasBody && req.ContentLength <= 0
	if err := writeHead(c.bw, req, chunked); err != nil {
		return fail(err)
	}
	var bodyErr chan error
	switch {
	case !hasBody:
		if err := c.bw.Flush(); err != nil {
			return fail(fmt.Errorf("%w: %v", errStaleConn, err))
		}
	case req.GetBody != nil && !chunked:
		// Small, buffered body (retries and mirrors keep one): write inline.
		if _, err := io.Copy(c.bw, req.Body); err != nil {
			return fail(err)
		}
		if err := c.bw.Flush(); err != nil {
			return fail(fmt.Errorf("%w: %v", errStaleConn, err))
		}
	default:
		bodyErr = make(chan error, 1)
		go func() {
			err := writeBody(c.bw, req, chunked)
			if err != nil {
				// The upstream would wait for the rest of the body forever: abort.
				c.nc.Close()
			}
			bodyErr <- err
		}()
	}
	resp, err := readResponse(c.br, req)
	if err != nil {
		if bodyErr != nil {
			c.nc.Close()
			<-bodyErr //nolint:errcheck // the read's error is the one to report
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
			err = fmt.Errorf("%w: %v", errStaleConn, err)
		}
		return fail(err)
	}
	resp.Body = &h1Body{ReadCloser: resp.Body, h: h, c: c, stop: stop, bodyErr: bodyErr, reusable: !resp.Close && !req.Close}
	return resp, nil
}

// writeHead serialises the request line and header fields. Header names and
// values were parsed by net/http or validated by the route compiler; they are
// checked again here because a bad byte would corrupt the connection.
func writeHead(bw *bufio.Writer, req *http.Request, chunked bool) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("invalid host %q", host)
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding":
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("invalid header name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("invalid value for header %q", k)
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	switch {
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case req.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(req.ContentLength, 10))
		bw.WriteString("\r\n")
	case req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

func writeBody(bw *bufio.Writer, req *http.Request, chunked bool) error {
	defer req.Body.Close()
	var err error
	if chunked {
		cw := httputil.NewChunkedWriter(bw)
		if _, err = io.Copy(cw, req.Body); err == nil {
			if err = cw.Close(); err == nil {
				_, err = bw.WriteString("\r\n")
			}
		}
	} else {
		var n int64
		n, err = io.Copy(bw, req.Body)
		if err == nil && n != req.ContentLength {
			err = fmt.Errorf("request body is %d bytes, Content-Length said %d", n, req.ContentLength)
		}
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// readResponse reads the answer's head, skipping interim 1xx answers other
// than 101 (which the caller never gets here: upgrades use net/http).
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode < 100 {
			return resp, nil
		}
		resp.Body.Close()
	}
}

// h1Body returns its connection to the pool when the body was read to the
// end cleanly; anything else closes the connection.
type h1Body struct {
	io.ReadCloser
	h        *inlineH1Client
	c        *h1Conn
	stop     func() bool
	bodyErr  chan error
	reusable bool
	once     sync.Once
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.release(false)
	return nil
}

func (b *h1Body) release(complete bool) {
	b.once.Do(func() {
		reuse := complete && b.reusable && b.stop() // stop: false if cancellation already fired
		if !complete {
			b.stop()
		}
		if b.bodyErr != nil {
			select {
			case err := <-b.bodyErr:
				reuse = reuse && err == nil
			default:
				// The answer ended before the upload: the peer stopped reading.
				// Close to unblock the writer; the connection is not reusable.
				reuse = false
				b.c.nc.Close()
				<-b.bodyErr //nolint:errcheck // closed on purpose: its error is ours
			}
		}
		if reuse {
			b.h.put(b.c)
		} else {
			b.c.nc.Close()
		}
	})
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}
