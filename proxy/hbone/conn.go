package hbone

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// errConnClosed is returned by operations on a connection that has ended.
var errConnClosed = errors.New("hbone: connection closed")

// conn is one HTTP/2 connection carrying CONNECT streams, either side.
//
// Locking: mu guards all connection and stream state; wmu serialises frame
// writes (and the hpack encoder). Never take mu while holding wmu's I/O
// for long: writers reserve under mu, release it, then write under wmu.
// The read loop never writes: its replies go through the control queue so
// a peer that is not reading can never stall our reading (the classic
// HTTP/2 write-write deadlock).
type conn struct {
	nc       net.Conn
	isClient bool
	flow     FlowOptions
	log      logr.Logger
	metrics  *Metrics // may be nil
	started  atomic.Bool

	fr    *http2.Framer
	bw    *bufio.Writer
	batch *batchConn // nil when not over TLS-on-batchConn

	wmu      sync.Mutex
	wwaiting atomic.Int32 // writers queued on wmu; the last one flushes
	henc     *hpack.Encoder
	hbuf     bytes.Buffer

	ctrlMu  sync.Mutex
	ctrl    []ctrlFrame
	ctrlSig chan struct{}

	mu                sync.Mutex
	sendCond          sync.Cond // send-window waiters of all streams
	streams           map[uint32]*Stream
	nextID            uint32 // client: next stream id to open
	lastPeerID        uint32 // server: highest stream id the peer opened
	reserved          int    // client: slots reserved by Dial, not yet opened
	handlers          int    // server: handler goroutines still running
	maxLocalStreams   uint32 // server: streams we accept concurrently
	peerMaxStreams    uint32
	peerInitialWindow int32
	peerMaxFrame      uint32
	sendWindow        int64 // connection-level send window
	recvLeft          int64 // connection-level receive window left
	recvUnacked       int64 // consumed bytes not yet returned by WINDOW_UPDATE
	goAwaySent        bool
	goAwayRecv        bool
	goAwayLast        uint32
	err               error
	idleSince         time.Time
	expires           time.Time // identities in the handshake stop being valid

	settingsRecv chan struct{} // closed on the peer's first SETTINGS
	done         chan struct{}
	closeOnce    sync.Once

	// onStream handles a new CONNECT request (server side).
	onStream func(*Stream, *headerBlock)
	hdec     *headerDecoder
	// onIdle is called (without locks) when the last stream ends.
	onIdle func(*conn)
	// onClose is called once when the connection ends.
	onClose func(*conn)
}

type ctrlKind uint8

const (
	ctrlSettingsAck ctrlKind = iota
	ctrlPingAck
	ctrlWindowUpdate
	ctrlRST
	ctrlGoAway
	ctrlClose // close the connection once everything queued before it is written
)

type ctrlFrame struct {
	kind ctrlKind
	id   uint32
	val  uint32
	code http2.ErrCode
	ping [8]byte
}

const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func newConn(nc net.Conn, isClient bool, flow FlowOptions, maxStreams uint32, log logr.Logger) *conn {
	c := &conn{
		nc:                nc,
		isClient:          isClient,
		flow:              flow,
		log:               log,
		ctrlSig:           make(chan struct{}, 1),
		streams:           map[uint32]*Stream{},
		nextID:            1,
		maxLocalStreams:   maxStreams,
		peerMaxStreams:    100, // RFC 9113 recommends assuming at least 100 until SETTINGS arrive
		peerInitialWindow: 65535,
		peerMaxFrame:      minFrameSize,
		sendWindow:        65535,
		recvLeft:          int64(flow.ConnWindow),
		idleSince:         time.Now(),
		settingsRecv:      make(chan struct{}),
		done:              make(chan struct{}),
	}
	c.sendCond.L = &c.mu
	// Smaller than a DATA frame on purpose: control frames batch in it, while
	// a full DATA frame written to an empty buffer goes straight to TLS
	// (bufio skips its copy), one memmove less per byte.
	c.bw = bufio.NewWriterSize(nc, 16<<10)
	c.fr = http2.NewFramer(c.bw, bufio.NewReaderSize(nc, 64<<10))
	c.fr.SetMaxReadFrameSize(flow.MaxFrameSize)
	c.fr.SetReuseFrames()       // DATA payloads are copied out at once (handleData)
	c.hdec = newHeaderDecoder() // header blocks: headers.go, not the Framer's ReadMetaHeaders
	c.henc = hpack.NewEncoder(&c.hbuf)
	// Our header blocks are tiny; no dynamic table keeps us compliant with
	// any HEADER_TABLE_SIZE the peer announces.
	c.henc.SetMaxDynamicTableSizeLimit(0)
	if tc, ok := nc.(*tls.Conn); ok {
		c.expires = earliestExpiry(tc.ConnectionState().PeerCertificates)
		if bc, ok := tc.NetConn().(*batchConn); ok {
			bc.startBatching()
			c.batch = bc
		}
	}
	return c
}

// start sends our preface and SETTINGS and runs the read and control loops.
func (c *conn) start() error {
	c.wmu.Lock()
	var err error
	if c.isClient {
		_, err = c.bw.WriteString(clientPreface)
	}
	if err == nil {
		settings := []http2.Setting{
			{ID: http2.SettingInitialWindowSize, Val: c.flow.StreamWindow},
			{ID: http2.SettingMaxFrameSize, Val: c.flow.MaxFrameSize},
			{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderListSize},
		}
		if c.isClient {
			settings = append(settings, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
		} else {
			settings = append(settings, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.maxLocalStreams})
		}
		err = c.fr.WriteSettings(settings...)
	}
	if err == nil && c.flow.ConnWindow > 65535 {
		err = c.fr.WriteWindowUpdate(0, c.flow.ConnWindow-65535)
	}
	if err == nil {
		err = c.flushLocked()
	}
	c.wmu.Unlock()
	if err != nil {
		c.close(err)
		return err
	}
	c.started.Store(true)
	c.metrics.connDelta(c.isClient, 1)
	go c.readLoop()
	go c.ctrlLoop()
	return nil
}

// flushLocked pushes buffered frames through TLS and onto the socket;
// wmu must be held.
func (c *conn) flushLocked() error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if c.batch != nil {
		return c.batch.Flush()
	}
	return nil
}

// writeFrames runs fn under the write lock and flushes unless another
// writer is queued behind us (it will flush): cheap batching under load.
func (c *conn) writeFrames(fn func() error) error {
	c.wwaiting.Add(1)
	c.wmu.Lock()
	c.wwaiting.Add(-1)
	err := fn()
	if err == nil && c.wwaiting.Load() == 0 {
		err = c.flushLocked()
	}
	c.wmu.Unlock()
	if err != nil && !errors.Is(err, errRefused) { // errRefused: nothing was written
		c.close(fmt.Errorf("hbone: write: %w", err))
	}
	return err
}

// writeHeaderBlock writes a header block as HEADERS and, if it is larger
// than the peer's frame size, CONTINUATION frames; wmu must be held.
func (c *conn) writeHeaderBlock(id uint32, block []byte, endStream bool) error {
	c.mu.Lock()
	maxFrame := int(c.peerMaxFrame)
	c.mu.Unlock()
	first := block[:min(len(block), maxFrame)]
	block = block[len(first):]
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(block) == 0, EndStream: endStream})
	for err == nil && len(block) > 0 {
		frag := block[:min(len(block), maxFrame)]
		block = block[len(frag):]
		err = c.fr.WriteContinuation(id, len(block) == 0, frag)
	}
	return err
}

// maxQueuedCtrl bounds control frames waiting to be written: a peer that
// floods PINGs or SETTINGS while not reading our answers is cut off.
const maxQueuedCtrl = 10000

func (c *conn) queueCtrl(f ctrlFrame) {
	c.ctrlMu.Lock()
	if len(c.ctrl) >= maxQueuedCtrl {
		c.ctrlMu.Unlock()
		go c.close(errors.New("hbone: peer floods control frames without reading our replies"))
		return
	}
	c.ctrl = append(c.ctrl, f)
	c.ctrlMu.Unlock()
	select {
	case c.ctrlSig <- struct{}{}:
	default:
	}
}

func (c *conn) ctrlLoop() {
	var batch []ctrlFrame
	for {
		select {
		case <-c.ctrlSig:
		case <-c.done:
			return
		}
		c.ctrlMu.Lock()
		batch, c.ctrl = c.ctrl, batch[:0]
		c.ctrlMu.Unlock()
		var hangUp bool
		err := c.writeFrames(func() error {
			for _, f := range batch {
				var err error
				switch f.kind {
				case ctrlClose:
					hangUp = true
				case ctrlSettingsAck:
					err = c.fr.WriteSettingsAck()
				case ctrlPingAck:
					err = c.fr.WritePing(true, f.ping)
				case ctrlWindowUpdate:
					err = c.fr.WriteWindowUpdate(f.id, f.val)
				case ctrlRST:
					err = c.fr.WriteRSTStream(f.id, f.code)
				case ctrlGoAway:
					err = c.fr.WriteGoAway(f.id, f.code, nil)
					hangUp = hangUp || f.code != http2.ErrCodeNo
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return
		}
		if hangUp { // the GOAWAY is written: flush (another writer may have skipped it) and hang up
			c.wmu.Lock()
			_ = c.flushLocked()
			c.wmu.Unlock()
			c.close(errConnClosed)
			return
		}
	}
}

// close ends the connection and fails every stream with err.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		streams := make([]*Stream, 0, len(c.streams))
		for _, s := range c.streams {
			streams = append(streams, s)
		}
		for _, s := range streams {
			if s.reset == nil {
				s.reset = fmt.Errorf("%w: %v", errConnClosed, err)
			}
			c.removeLocked(s)
		}
		c.sendCond.Broadcast()
		c.mu.Unlock()
		if c.batch != nil {
			// Close the socket under TLS first: a write blocked on a peer
			// that stopped reading holds locks tls.Conn.Close would wait for.
			c.batch.Conn.Close()
		}
		c.nc.Close()
		close(c.done)
		if c.started.Load() {
			c.metrics.connDelta(c.isClient, -1)
		}
		if c.onClose != nil {
			c.onClose(c)
		}
	})
}

// connError sends GOAWAY with code and closes once it is written.
func (c *conn) connError(code http2.ErrCode, why error) {
	c.log.V(1).Info("hbone connection error", "code", code.String(), "reason", why.Error())
	c.mu.Lock()
	last := c.lastPeerID
	c.goAwaySent = true
	if c.err == nil {
		c.err = fmt.Errorf("hbone: connection error %s: %w", code, why)
	}
	c.mu.Unlock()
	c.queueCtrl(ctrlFrame{kind: ctrlGoAway, id: last, code: code})
	// If the peer stops reading, do not wait forever for the GOAWAY.
	time.AfterFunc(time.Second, func() { c.close(why) })
}

// goAway starts a graceful drain: the peer may open no new streams, the
// ones it opened finish, and the connection closes when none is left.
func (c *conn) goAway() {
	c.mu.Lock()
	if c.goAwaySent || c.err != nil {
		c.mu.Unlock()
		return
	}
	c.goAwaySent = true
	last := c.lastPeerID
	idle := len(c.streams) == 0
	c.mu.Unlock()
	c.queueCtrl(ctrlFrame{kind: ctrlGoAway, id: last, code: http2.ErrCodeNo})
	if idle {
		c.closeAfterFlush()
	}
}

// closeAfterFlush closes the connection right after the control frames
// queued so far (our GOAWAY) are on the wire.
func (c *conn) closeAfterFlush() {
	c.queueCtrl(ctrlFrame{kind: ctrlClose})
}

func (c *conn) readLoop() {
	if !c.isClient {
		buf := make([]byte, len(clientPreface))
		if _, err := io.ReadFull(c.nc, buf); err != nil || string(buf) != clientPreface {
			c.close(fmt.Errorf("hbone: bad client preface: %v", err))
			return
		}
	}
	first := true
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se):
				c.resetStream(se.StreamID, se.Code, fmt.Errorf("hbone: stream error: %w", err))
				continue
			case errors.As(err, &ce):
				c.connError(http2.ErrCode(ce), err)
				return
			default:
				if errors.Is(err, io.EOF) {
					err = errConnClosed
				}
				c.close(err)
				return
			}
		}
		if first {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				c.connError(http2.ErrCodeProtocol, errors.New("first frame is not SETTINGS"))
				return
			}
			first = false
		}
		if err := c.handleFrame(f); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				c.connError(http2.ErrCode(ce), err)
			} else {
				c.close(err)
			}
			return
		}
	}
}

func (c *conn) handleFrame(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.handleSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.queueCtrl(ctrlFrame{kind: ctrlPingAck, ping: f.Data})
		}
	case *http2.WindowUpdateFrame:
		return c.handleWindowUpdate(f)
	case *http2.HeadersFrame:
		c.hdec.begin(f.StreamID, f.StreamEnded())
		return c.headerFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.ContinuationFrame: // the Framer guarantees it follows its HEADERS
		return c.headerFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.DataFrame:
		return c.handleData(f)
	case *http2.RSTStreamFrame:
		c.mu.Lock()
		if s := c.streams[f.StreamID]; s != nil {
			s.reset = &StreamResetError{Code: f.ErrCode, Remote: true}
			c.removeLocked(s)
		}
		c.mu.Unlock()
	case *http2.GoAwayFrame:
		c.handleGoAway(f)
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	// PRIORITY, PRIORITY_UPDATE and unknown frame types are ignored.
	return nil
}

func (c *conn) handleSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.peerMaxStreams = s.Val
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerInitialWindow)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.peerInitialWindow = int32(s.Val)
			c.sendCond.Broadcast()
		}
		return nil
	})
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.queueCtrl(ctrlFrame{kind: ctrlSettingsAck})
	select {
	case <-c.settingsRecv:
	default:
		close(c.settingsRecv)
	}
	return nil
}

func (c *conn) handleWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		if c.sendWindow+int64(f.Increment) > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.sendWindow += int64(f.Increment)
		c.sendCond.Broadcast()
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return nil // a stream that already ended
	}
	if s.sendWindow+int64(f.Increment) > maxWindow {
		s.reset = &StreamResetError{Code: http2.ErrCodeFlowControl}
		c.removeLocked(s)
		c.queueCtrl(ctrlFrame{kind: ctrlRST, id: s.id, code: http2.ErrCodeFlowControl})
		return nil
	}
	s.sendWindow += int64(f.Increment)
	c.sendCond.Broadcast()
	return nil
}

func (c *conn) handleGoAway(f *http2.GoAwayFrame) {
	c.mu.Lock()
	c.goAwayRecv = true
	c.goAwayLast = f.LastStreamID
	// Streams we opened that the peer never processed can safely be
	// retried elsewhere.
	for id, s := range c.streams {
		if c.isClient && id > f.LastStreamID {
			s.reset = errRefused
			c.removeLocked(s)
		}
	}
	idle := len(c.streams) == 0
	c.mu.Unlock()
	if f.ErrCode != http2.ErrCodeNo {
		c.log.V(1).Info("peer sent GOAWAY", "code", f.ErrCode.String(), "debug", string(f.DebugData()))
	}
	if idle {
		c.closeAfterFlush()
	}
}

// headerFragment decodes part of a header block and, at its end, handles it.
func (c *conn) headerFragment(frag []byte, end bool) error {
	if err := c.hdec.write(frag); err != nil {
		return err
	}
	if !end {
		return nil
	}
	if err := c.hdec.finish(); err != nil {
		return err
	}
	b := &c.hdec.block
	if b.invalid != nil {
		c.resetStream(b.streamID, http2.ErrCodeProtocol, fmt.Errorf("hbone: stream error: %w", b.invalid))
		return nil
	}
	return c.handleHeaders(b)
}

func (c *conn) handleHeaders(f *headerBlock) error {
	id := f.streamID
	c.mu.Lock()
	s := c.streams[id]
	if c.isClient {
		if s == nil {
			c.mu.Unlock()
			return nil // response for a stream we already gave up on
		}
		if s.status == 0 {
			st, err := parseStatus(f.pseudo(":status"))
			if err != nil {
				c.mu.Unlock()
				c.resetStream(id, http2.ErrCodeProtocol, err)
				return nil
			}
			if st >= 200 { // 1xx are informational; wait for the final one
				s.status = st
				s.rcond.Broadcast()
			}
		}
	}
	// Headers on an open stream: the client's response, or trailers. A
	// client's stream is never nil here.
	if s != nil {
		if f.endStream {
			s.recvClosed = true
			s.rcond.Broadcast()
			c.maybeRemoveLocked(s)
		}
		c.mu.Unlock()
		return nil
	}
	// Server: a new CONNECT.
	if id%2 == 0 || id <= c.lastPeerID {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if c.goAwaySent {
		c.mu.Unlock()
		c.queueCtrl(ctrlFrame{kind: ctrlRST, id: id, code: http2.ErrCodeRefusedStream})
		return nil
	}
	c.lastPeerID = id
	// A stream counts until its handler returns, not only until it is
	// reset: otherwise open-and-reset floods ("rapid reset",
	// CVE-2023-44487) would start unbounded handler goroutines.
	if uint32(max(len(c.streams), c.handlers)) >= c.maxLocalStreams {
		c.mu.Unlock()
		c.queueCtrl(ctrlFrame{kind: ctrlRST, id: id, code: http2.ErrCodeRefusedStream})
		return nil
	}
	s = c.newStreamLocked(id)
	s.recvClosed = f.endStream
	c.handlers++
	c.mu.Unlock()
	c.onStream(s, f)
	return nil
}

func (c *conn) handleData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int64(f.Length)
	data := f.Data()
	c.mu.Lock()
	c.recvLeft -= n
	if c.recvLeft < 0 {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	s := c.streams[id]
	if s == nil || s.recvClosed || s.reset != nil || (c.isClient && s.status == 0) {
		// Data for a stream that is gone: give the connection window back.
		c.returnConnWindowLocked(n)
		known := id <= c.lastPeerID || (c.isClient && id < c.nextID)
		c.mu.Unlock()
		if !known {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if s == nil {
			c.queueCtrl(ctrlFrame{kind: ctrlRST, id: id, code: http2.ErrCodeStreamClosed})
		}
		return nil
	}
	s.recvLeft -= n
	if s.recvLeft < 0 {
		s.reset = &StreamResetError{Code: http2.ErrCodeFlowControl}
		c.removeLocked(s)
		c.returnConnWindowLocked(n)
		c.mu.Unlock()
		c.queueCtrl(ctrlFrame{kind: ctrlRST, id: id, code: http2.ErrCodeFlowControl})
		return nil
	}
	if pad := n - int64(len(data)); pad > 0 {
		// Padding is never read by the application; return it at once.
		s.recvUnacked += pad
		c.returnConnWindowLocked(pad)
	}
	if len(data) > 0 {
		s.rbuf.Write(data)
	}
	if f.StreamEnded() {
		s.recvClosed = true
		c.maybeRemoveLocked(s)
	}
	s.rcond.Broadcast()
	c.mu.Unlock()
	return nil
}

// returnConnWindowLocked records consumed connection-window bytes and
// queues a WINDOW_UPDATE once a quarter of the window is due.
func (c *conn) returnConnWindowLocked(n int64) {
	c.recvUnacked += n
	if c.recvUnacked >= int64(c.flow.ConnWindow/4) {
		inc := c.recvUnacked
		c.recvUnacked = 0
		c.recvLeft += inc
		c.queueCtrl(ctrlFrame{kind: ctrlWindowUpdate, id: 0, val: uint32(inc)})
	}
}

// resetStream sends RST_STREAM and fails the local stream.
func (c *conn) resetStream(id uint32, code http2.ErrCode, why error) {
	c.mu.Lock()
	if s := c.streams[id]; s != nil {
		if s.reset == nil {
			s.reset = &StreamResetError{Code: code, Cause: why}
		}
		c.removeLocked(s)
	}
	c.mu.Unlock()
	c.queueCtrl(ctrlFrame{kind: ctrlRST, id: id, code: code})
}

func (c *conn) newStreamLocked(id uint32) *Stream {
	s := &Stream{
		c:          c,
		id:         id,
		sendWindow: int64(c.peerInitialWindow),
		recvLeft:   int64(c.flow.StreamWindow),
	}
	s.rcond.L = &c.mu
	c.streams[id] = s
	c.metrics.streamDelta(c.isClient, 1)
	return s
}

// handlerDone is called when a server handler goroutine returns.
func (c *conn) handlerDone() {
	c.mu.Lock()
	c.handlers--
	c.mu.Unlock()
}

// maybeRemoveLocked removes a stream whose both directions have ended.
func (c *conn) maybeRemoveLocked(s *Stream) {
	if s.recvClosed && s.sendClosed {
		c.removeLocked(s)
	}
}

func (c *conn) removeLocked(s *Stream) {
	if s.removed {
		return
	}
	s.removed = true
	delete(c.streams, s.id)
	c.metrics.streamDelta(c.isClient, -1)
	s.rcond.Broadcast()
	c.sendCond.Broadcast()
	if s.cancel != nil {
		s.cancel()
	}
	if len(c.streams) == 0 {
		c.idleSince = time.Now()
		if (c.goAwaySent || c.goAwayRecv) && c.err == nil {
			c.closeAfterFlush()
		} else if c.onIdle != nil {
			go c.onIdle(c)
		}
	}
}

// earliestExpiry is when the first certificate of the chain expires
// (zero for an empty chain).
func earliestExpiry(chain []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range chain {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}
