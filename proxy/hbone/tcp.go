package hbone

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// halfCloser is a connection whose write side can be closed alone.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// DialTarget is the ztunnel inbound Handler: it dials the CONNECT target
// over TCP, answers 503 if that fails (the client sees a refusal, not a
// hang), else 200, and then splices bytes with half-close both ways.
type DialTarget struct {
	// Dial dials the target; nil uses a net.Dialer with a 5s timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Authorize may refuse a request (403); nil allows all.
	Authorize func(*ConnectRequest) error
	Log       logr.Logger
}

// ServeHBONE implements Handler.
func (d DialTarget) ServeHBONE(ctx context.Context, req *ConnectRequest, s *Stream) {
	if d.Authorize != nil {
		if err := d.Authorize(req); err != nil {
			d.logger().Info("hbone: CONNECT denied", "peer", req.PeerIdentity.String(), "target", req.Target.String(), "reason", err.Error())
			_ = s.Reject(http.StatusForbidden)
			return
		}
	}
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	up, err := dial(ctx, "tcp", req.Target.String())
	if err != nil {
		d.logger().V(1).Info("hbone: target unreachable", "target", req.Target.String(), "error", err.Error())
		_ = s.Reject(http.StatusServiceUnavailable)
		return
	}
	defer up.Close()
	if err := s.Accept(); err != nil {
		return
	}
	if err := Splice(s, up); err != nil {
		d.logger().V(1).Info("hbone: stream ended with error", "target", req.Target.String(), "error", err.Error())
	}
}

func (d DialTarget) logger() logr.Logger {
	if d.Log.GetSink() == nil {
		return logr.Discard()
	}
	return d.Log
}

// Splice copies bytes both ways between a and b until both directions
// ended. EOF on one side is passed on as a half-close of the other; an
// error resets both (a TCP reset becomes RST_STREAM and vice versa).
func Splice(a, b net.Conn) error {
	_, _, err := SpliceCounted(a, b)
	return err
}

// SpliceCounted is Splice that also reports how many bytes went to a (read
// from b) and to b (read from a), for byte metrics.
func SpliceCounted(a, b net.Conn) (toA, toB int64, err error) {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	counts := make([]int64, 2)
	cp := func(i int, dst, src net.Conn) {
		defer wg.Done()
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		// The wrappers hide ReaderFrom/WriterTo, which would make io.Copy
		// allocate a fresh 32 KiB buffer per direction per stream.
		n, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
		counts[i] = n
		if err == nil {
			if hc, ok := dst.(halfCloser); ok {
				err = hc.CloseWrite()
			}
		}
		if err != nil {
			errs[i] = err
			abort(a)
			abort(b)
		}
	}
	wg.Add(2)
	go cp(0, a, b)
	go cp(1, b, a)
	wg.Wait()
	return counts[0], counts[1], errors.Join(errs...)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// abort ends a connection abruptly so a copy blocked on it returns.
func abort(c net.Conn) {
	switch c := c.(type) {
	case *Stream:
		c.Reset()
	case *net.TCPConn:
		_ = c.SetLinger(0) // RST, mirroring the failure to the other side
		_ = c.Close()
	default:
		_ = c.Close()
	}
}
