// Package uds carries JSON messages, each with optional file descriptors,
// over a UNIX stream socket. The ztunnel and its CNI plugin use it to hand a
// pod's network namespace from the plugin to the node proxy.
//
// Frame: a 4-byte big-endian length, then that many bytes of JSON. File
// descriptors ride along as SCM_RIGHTS ancillary data of the frame.
package uds

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// MaxMessageSize bounds one message's JSON: the node protocol's messages
	// are a few hundred bytes, and a peer must not make us allocate more.
	MaxMessageSize = 64 << 10
	// MaxFiles bounds the descriptors that may travel with one message.
	MaxFiles   = 8
	headerSize = 4
)

// ErrTooLarge is returned for messages beyond MaxMessageSize.
var ErrTooLarge = errors.New("uds: message too large")

// ErrTooManyFiles is returned for messages carrying more than MaxFiles descriptors.
var ErrTooManyFiles = errors.New("uds: too many file descriptors")

// FrameError means the byte stream is no longer in step with the frames
// (bad length, truncated frame, too many descriptors): the connection is
// unusable and every later Receive fails with the same error.
type FrameError struct{ Err error }

func (e *FrameError) Error() string { return "uds: broken frame: " + e.Err.Error() }
func (e *FrameError) Unwrap() error { return e.Err }

// DecodeError means one well-framed message was not valid JSON for the
// value asked for; the connection stays usable.
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return "uds: malformed message: " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Conn is one end of a message connection. Send and Receive may be used
// from different goroutines, but not each from several at once.
type Conn struct {
	c *net.UnixConn

	rmu    sync.Mutex
	broken error // sticky FrameError
}

// NewConn wraps an established UNIX stream connection.
func NewConn(c *net.UnixConn) *Conn { return &Conn{c: c} }

// Dial connects to the socket at path.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return NewConn(c.(*net.UnixConn)), nil
}

// SetDeadline bounds every Send and Receive until changed.
func (c *Conn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// SetReadDeadline bounds Receive only.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// SetWriteDeadline bounds Send only.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Send writes v as one message; files travel with it and stay open on this
// side (the receiver gets its own descriptors).
func (c *Conn) Send(v any, files ...*os.File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("%w: %d, at most %d per message", ErrTooManyFiles, len(files), MaxFiles)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("uds: encoding message: %w", err)
	}
	if len(body) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(body), MaxMessageSize)
	}
	buf := make([]byte, headerSize+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[headerSize:], body)

	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			if f == nil {
				return errors.New("uds: nil file")
			}
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.c.WriteMsgUnix(buf, oob, nil)
	// The descriptors taken with Fd() above must outlive sendmsg.
	runtime.KeepAlive(files)
	if err != nil {
		return fmt.Errorf("uds: sending message: %w", err)
	}
	// A stream socket may take part of a frame; the descriptors went with
	// the first part, the rest is plain bytes.
	if n < len(buf) {
		if _, err := c.c.Write(buf[n:]); err != nil {
			return fmt.Errorf("uds: sending message: %w", err)
		}
	}
	return nil
}

// Receive reads the next message into v and returns the descriptors that
// came with it; the caller owns (and must close) them. On any error the
// descriptors that arrived are closed. io.EOF means the peer closed the
// connection between messages.
func (c *Conn) Receive(v any) ([]*os.File, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.broken != nil {
		return nil, c.broken
	}
	var fds []int
	fail := func(err error) ([]*os.File, error) {
		closeFDs(fds)
		var fe *FrameError
		if errors.As(err, &fe) {
			c.broken = err
		}
		return nil, err
	}

	var hdr [headerSize]byte
	got, err := c.readFull(hdr[:], &fds)
	switch {
	case err != nil && got == 0 && len(fds) == 0:
		// Between messages: a clean close (io.EOF) or a timeout leaves
		// the stream in step.
		return nil, err
	case err != nil:
		return fail(frameOrIOError(err))
	}
	size := binary.BigEndian.Uint32(hdr[:])
	switch {
	case size == 0:
		return fail(&FrameError{errors.New("empty message")})
	case size > MaxMessageSize:
		return fail(&FrameError{fmt.Errorf("%w: peer announced %d bytes, at most %d", ErrTooLarge, size, MaxMessageSize)})
	}
	body := make([]byte, size)
	if _, err := c.readFull(body, &fds); err != nil {
		return fail(frameOrIOError(err))
	}
	if len(fds) > MaxFiles {
		return fail(&FrameError{fmt.Errorf("%w: %d, at most %d per message", ErrTooManyFiles, len(fds), MaxFiles)})
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fail(&DecodeError{err})
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), fmt.Sprintf("uds-fd-%d", fd))
	}
	return files, nil
}

// frameOrIOError marks a stream that ended or failed inside a frame as
// broken, keeping timeouts recognisable (os.ErrDeadlineExceeded).
func frameOrIOError(err error) error {
	if errors.Is(err, io.EOF) {
		return &FrameError{io.ErrUnexpectedEOF}
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		return err
	}
	return &FrameError{err}
}

// oobSize leaves room for one descriptor more than allowed, so that "too
// many" is detected rather than silently truncated by the kernel.
var oobSize = unix.CmsgSpace((MaxFiles + 1) * 4)

// readFull reads exactly len(p) bytes. It never asks for more than the
// current frame holds, so a recvmsg never spans two frames and every
// descriptor is attributed to the frame it was sent with.
func (c *Conn) readFull(p []byte, fds *[]int) (int, error) {
	oob := make([]byte, oobSize)
	got := 0
	for got < len(p) {
		n, oobn, flags, _, err := c.c.ReadMsgUnix(p[got:], oob)
		if oobn > 0 {
			received, perr := parseRights(oob[:oobn])
			*fds = append(*fds, received...)
			if perr != nil {
				return got, &FrameError{perr}
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return got, &FrameError{fmt.Errorf("%w: more than %d per message", ErrTooManyFiles, MaxFiles)}
		}
		got += n
		if n == 0 && (err == nil || errors.Is(err, io.EOF)) {
			return got, io.EOF
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parsing control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		rights, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, fmt.Errorf("parsing SCM_RIGHTS: %w", err)
		}
		fds = append(fds, rights...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
