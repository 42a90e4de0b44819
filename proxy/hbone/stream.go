package hbone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// StreamResetError reports that a stream was reset (RST_STREAM).
type StreamResetError struct {
	Code   http2.ErrCode
	Remote bool // the peer reset it
	Cause  error
}

func (e *StreamResetError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	if e.Cause != nil {
		return fmt.Sprintf("hbone: stream reset %s (%s): %v", who, e.Code, e.Cause)
	}
	return fmt.Sprintf("hbone: stream reset %s (%s)", who, e.Code)
}

func (e *StreamResetError) Unwrap() error { return e.Cause }

// writeBurst is how many DATA frames one Write sends per flush.
const writeBurst = 4

var (
	// errRefused marks a stream the peer never processed (REFUSED_STREAM
	// or above a GOAWAY's last stream id): safe to retry elsewhere.
	errRefused     = errors.New("hbone: stream refused by peer before processing")
	errWriteClosed = errors.New("hbone: write on closed stream")
	errClosed      = errors.New("hbone: use of closed stream")
)

// Stream is one CONNECT tunnel: a net.Conn whose bytes travel as HTTP/2
// DATA frames. CloseWrite half-closes (END_STREAM) while reading goes on;
// Close ends both directions gracefully; Reset aborts (RST_STREAM CANCEL),
// the tunnel's equivalent of a TCP reset.
type Stream struct {
	c  *conn
	id uint32

	wmu sync.Mutex // one Write at a time keeps a stream's bytes in order

	// All below guarded by c.mu.
	rcond       sync.Cond
	rbuf        recvBuf
	recvLeft    int64 // receive window the peer may still use
	recvUnacked int64 // bytes read by the application, not yet returned
	recvClosed  bool
	sendWindow  int64
	sendClosed  bool
	writing     int // DATA frames reserved but not yet written
	reset       error
	removed     bool
	status      int // client: response status; server: status sent
	rdl, wdl    deadline
	cancel      context.CancelFunc

	// Addresses: an AddrPort when known (the net.Addr is built on demand,
	// most streams never ask), else the tunnel's own address.
	localAP, remoteAP   netip.AddrPort
	localNet, remoteNet net.Addr
}

type deadline struct {
	t     time.Time
	timer *time.Timer
}

func (d *deadline) expired() bool { return !d.t.IsZero() && !time.Now().Before(d.t) }

// Read implements net.Conn. Bytes the peer sent before END_STREAM are
// delivered, then io.EOF.
func (s *Stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := s.c
	c.mu.Lock()
	for {
		if s.rbuf.Len() > 0 {
			n := s.rbuf.Read(p)
			var streamInc uint32
			s.recvUnacked += int64(n)
			if !s.recvClosed && s.recvUnacked >= int64(c.flow.StreamWindow/4) {
				streamInc = uint32(s.recvUnacked)
				s.recvLeft += s.recvUnacked
				s.recvUnacked = 0
			}
			c.returnConnWindowLocked(int64(n))
			c.mu.Unlock()
			if streamInc > 0 {
				c.queueCtrl(ctrlFrame{kind: ctrlWindowUpdate, id: s.id, val: streamInc})
			}
			return n, nil
		}
		switch {
		case s.recvClosed:
			c.mu.Unlock()
			return 0, io.EOF
		case s.reset != nil:
			err := s.reset
			c.mu.Unlock()
			return 0, err
		case s.rdl.expired():
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		s.rcond.Wait()
	}
}

// Write implements net.Conn. It blocks while the peer's flow-control
// window is exhausted: a slow reader slows the writer, nothing buffers
// without bound.
func (s *Stream) Write(p []byte) (int, error) {
	c := s.c
	if !c.isClient {
		if err := s.Accept(); err != nil {
			return 0, err
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		c.mu.Lock()
		for {
			if err := s.writableLocked(); err != nil {
				c.mu.Unlock()
				return written, err
			}
			if s.sendWindow > 0 && c.sendWindow > 0 {
				break
			}
			c.sendCond.Wait()
		}
		// Up to writeBurst frames per lock and flush: one syscall carries
		// them (batchconn.go), instead of one per frame.
		frame := int64(min(c.peerMaxFrame, c.flow.MaxFrameSize))
		n := min(int64(len(p)), s.sendWindow, c.sendWindow, writeBurst*frame)
		s.sendWindow -= n
		c.sendWindow -= n
		s.writing++
		c.mu.Unlock()

		chunk := p[:n]
		err := c.writeFrames(func() error {
			for b := chunk; len(b) > 0; {
				k := min(int64(len(b)), frame)
				if err := c.fr.WriteData(s.id, false, b[:k]); err != nil {
					return err
				}
				b = b[k:]
			}
			return nil
		})

		c.mu.Lock()
		s.writing--
		if s.writing == 0 {
			c.sendCond.Broadcast()
		}
		c.mu.Unlock()
		if err != nil {
			return written, err
		}
		written += int(n)
		p = p[n:]
	}
	return written, nil
}

func (s *Stream) writableLocked() error {
	switch {
	case s.reset != nil:
		return s.reset
	case s.sendClosed:
		return errWriteClosed
	case s.c.err != nil:
		return s.c.err
	case s.wdl.expired():
		return os.ErrDeadlineExceeded
	}
	return nil
}

// CloseWrite half-closes the stream: the peer reads EOF, and this side can
// still read until the peer closes its own direction.
func (s *Stream) CloseWrite() error {
	c := s.c
	c.mu.Lock()
	if s.sendClosed || s.removed {
		c.mu.Unlock()
		return nil
	}
	if !c.isClient && s.status == 0 {
		c.mu.Unlock()
		return s.respond(200, true)
	}
	s.sendClosed = true
	c.sendCond.Broadcast() // writers waiting on a window must give up
	for s.writing > 0 {    // frames already reserved go out before END_STREAM
		c.sendCond.Wait()
	}
	c.mu.Unlock()
	err := c.writeFrames(func() error { return c.fr.WriteData(s.id, true, nil) })
	c.mu.Lock()
	c.maybeRemoveLocked(s)
	c.mu.Unlock()
	return err
}

// Close ends the stream: our direction gracefully (END_STREAM) and, if the
// peer has not finished sending, tells it to stop (RST_STREAM NO_ERROR),
// which is how a TCP close with unread data behaves.
func (s *Stream) Close() error {
	c := s.c
	c.mu.Lock()
	if s.removed {
		c.mu.Unlock()
		return nil
	}
	sendOpen := !s.sendClosed
	c.mu.Unlock()
	if sendOpen {
		if err := s.CloseWrite(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if s.removed {
		c.mu.Unlock()
		return nil
	}
	s.reset = errClosed
	c.removeLocked(s)
	c.mu.Unlock()
	c.queueCtrl(ctrlFrame{kind: ctrlRST, id: s.id, code: http2.ErrCodeNo})
	return nil
}

// Reset aborts the stream in both directions (RST_STREAM CANCEL).
func (s *Stream) Reset() {
	s.c.resetStream(s.id, http2.ErrCodeCancel, errors.New("reset by application"))
}

// Draining reports that the stream's connection is going away (GOAWAY sent
// or received, or the connection failed). The stream itself works to its
// end, but a pool should not start another exchange on it: its peer (a node
// proxy being replaced) will close it when its drain ends.
func (s *Stream) Draining() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.c.goAwayRecv || s.c.goAwaySent || s.c.err != nil
}

// LocalAddr implements net.Conn. On the server it is the CONNECT target;
// on the client, the tunnel's local address.
func (s *Stream) LocalAddr() net.Addr { return addrOf(s.localAP, s.localNet) }

// RemoteAddr implements net.Conn. On the server it is the original source
// from Forwarded (else the tunnel peer); on the client, the target.
func (s *Stream) RemoteAddr() net.Addr { return addrOf(s.remoteAP, s.remoteNet) }

func addrOf(ap netip.AddrPort, fallback net.Addr) net.Addr {
	if ap.IsValid() {
		return net.TCPAddrFromAddrPort(ap)
	}
	return fallback
}

// SetDeadline implements net.Conn.
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.setDeadline(&s.rdl, t)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.setDeadline(&s.wdl, t)
	return nil
}

func (s *Stream) setDeadline(d *deadline, t time.Time) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	d.t = t
	if t.IsZero() {
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		// One timer per deadline, reset on every change: an HTTP/1.1
		// keep-alive stream moves its read deadline for every request.
		if d.timer == nil {
			d.timer = time.AfterFunc(dur, s.wakeDeadline)
		} else {
			d.timer.Reset(dur)
		}
	} else {
		if d.timer != nil {
			d.timer.Stop()
		}
		s.rcond.Broadcast()
		c.sendCond.Broadcast()
	}
}

// wakeDeadline lets blocked readers and writers see an expired deadline.
func (s *Stream) wakeDeadline() {
	c := s.c
	c.mu.Lock()
	s.rcond.Broadcast()
	c.sendCond.Broadcast()
	c.mu.Unlock()
}

// respond sends the CONNECT response headers (server side).
func (s *Stream) respond(status int, endStream bool) error {
	c := s.c
	c.mu.Lock()
	if s.status != 0 || s.removed {
		c.mu.Unlock()
		if s.reset != nil {
			return s.reset
		}
		return nil
	}
	s.status = status
	if endStream {
		s.sendClosed = true
	}
	c.mu.Unlock()
	c.metrics.streamResult(false, status, "")
	err := c.writeFrames(func() error {
		c.hbuf.Reset()
		_ = c.henc.WriteField(hfStatus(status))
		return c.writeHeaderBlock(s.id, c.hbuf.Bytes(), endStream)
	})
	if endStream {
		c.mu.Lock()
		c.maybeRemoveLocked(s)
		c.mu.Unlock()
	}
	return err
}

func parseStatus(v string) (int, error) {
	st, err := strconv.Atoi(v)
	if err != nil || st < 100 || st > 999 {
		return 0, fmt.Errorf("hbone: invalid :status %q", v)
	}
	return st, nil
}
