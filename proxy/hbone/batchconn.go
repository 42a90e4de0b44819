package hbone

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// batchConn sits between crypto/tls and the TCP socket. After the
// handshake it collects the TLS records of one frame batch (a 64 KiB DATA
// frame is four records) and sends them with one write syscall when the
// connection flushes, instead of one syscall per record. Reads are
// buffered too, so one syscall fetches many records.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      []byte
	r        *bufio.Reader
	// alpnRefused says why the handshake was refused for ALPN (for the log).
	alpnRefused string
}

func newBatchConn(c net.Conn) *batchConn {
	return &batchConn{Conn: c, r: bufio.NewReaderSize(c, 128<<10)}
}

// Read is only called by crypto/tls, from one goroutine at a time.
func (b *batchConn) Read(p []byte) (int, error) { return b.r.Read(p) }

const batchLimit = 256 << 10 // write through beyond this, bounding memory

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	if len(b.buf)+len(p) > batchLimit {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > batchLimit {
			return b.Conn.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// startBatching is called once the handshake is done.
func (b *batchConn) startBatching() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// Flush sends what was collected.
func (b *batchConn) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close flushes first so a final close_notify or GOAWAY is not lost, but
// never waits behind a write blocked on a peer that stopped reading: Close
// is what must unblock that write.
func (b *batchConn) Close() error {
	if b.mu.TryLock() {
		_ = b.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = b.flushLocked()
		b.mu.Unlock()
	}
	return b.Conn.Close()
}
