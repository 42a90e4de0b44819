package uds

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type msg struct {
	Op   string `json:"op"`
	Data string `json:"data,omitempty"`
}

func socketPath(t *testing.T) string {
	t.Helper()
	// t.TempDir can exceed sun_path's 108 bytes for long test names.
	dir, err := os.MkdirTemp("", "uds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "node.sock")
}

// pair returns a client and the server side of one accepted connection.
func pair(t *testing.T) (client, server *Conn) {
	t.Helper()
	l, err := Listen(socketPath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = Dial(context.Background(), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	for _, c := range []*Conn{client, server} {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { c.Close() })
	}
	return client, server
}

// rawClient dials without the framing, to send what a broken peer would.
func rawClient(t *testing.T, server *Listener) (*net.UnixConn, *Conn) {
	t.Helper()
	accepted := make(chan *Conn, 1)
	go func() {
		c, _ := server.Accept()
		accepted <- c
	}()
	raw, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: server.Path(), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c := <-accepted
	if c == nil {
		t.Fatal("accept failed")
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return raw, c
}

func frame(body string) []byte {
	b := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	copy(b[4:], body)
	return b
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// assertAllWritersClosed proves that every copy of a pipe's write end was
// closed (by the receiver, since the test closed its own): only then does
// the read end see EOF.
func assertAllWritersClosed(t *testing.T, r, w *os.File) {
	t.Helper()
	w.Close()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.Read(make([]byte, 1))
	if err != io.EOF {
		t.Fatalf("pipe read = %d, %v; want EOF (a received descriptor was leaked)", n, err)
	}
}

func TestDescriptorsArriveAndWork(t *testing.T) {
	client, server := pair(t)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	r3, w3 := pipe(t)

	// Three messages queued before the server reads any: each must get
	// exactly the descriptors sent with it.
	sends := []struct {
		m     msg
		files []*os.File
	}{
		{msg{Op: "one"}, []*os.File{w1}},
		{msg{Op: "none"}, nil},
		{msg{Op: "two", Data: strings.Repeat("x", 40000)}, []*os.File{w2, w3}},
	}
	for _, s := range sends {
		if err := client.Send(s.m, s.files...); err != nil {
			t.Fatal(err)
		}
	}
	readers := map[string][]*os.File{"one": {r1}, "none": nil, "two": {r2, r3}}
	for _, s := range sends {
		var got msg
		files, err := server.Receive(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got.Op != s.m.Op || got.Data != s.m.Data {
			t.Fatalf("received %q (%d bytes data), want %q", got.Op, len(got.Data), s.m.Op)
		}
		if len(files) != len(s.files) {
			t.Fatalf("%s: %d files, want %d", got.Op, len(files), len(s.files))
		}
		for i, f := range files {
			word := got.Op + "-" + string(rune('a'+i))
			if _, err := f.Write([]byte(word)); err != nil {
				t.Fatalf("writing through received descriptor: %v", err)
			}
			f.Close()
			buf := make([]byte, 32)
			r := readers[got.Op][i]
			r.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := r.Read(buf)
			if err != nil || string(buf[:n]) != word {
				t.Fatalf("pipe got %q, %v; want %q", buf[:n], err, word)
			}
		}
	}
}

func TestReceivedDescriptorsAreCloseOnExec(t *testing.T) {
	client, server := pair(t)
	_, w := pipe(t)
	if err := client.Send(msg{Op: "x"}, w); err != nil {
		t.Fatal(err)
	}
	files, err := server.Receive(&msg{})
	if err != nil || len(files) != 1 {
		t.Fatal(files, err)
	}
	defer files[0].Close()
	flags, err := unix.FcntlInt(files[0].Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("F_GETFD = %#x, %v; want FD_CLOEXEC", flags, err)
	}
}

func TestSocketIsRootOnly(t *testing.T) {
	l, err := Listen(socketPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want socket 0600", st.Mode())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(l.Path()), ".uds*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary names left behind: %v", leftovers)
	}
}

func TestMalformedJSONClosesDescriptorsAndKeepsConnection(t *testing.T) {
	l, err := Listen(socketPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw, server := rawClient(t, l)
	r, w := pipe(t)
	if _, _, err := raw.WriteMsgUnix(frame(`{"op": nope`), unix.UnixRights(int(w.Fd()), int(w.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	files, err := server.Receive(&msg{})
	var de *DecodeError
	if !errors.As(err, &de) || files != nil {
		t.Fatalf("Receive = %v, %v; want a DecodeError and no files", files, err)
	}
	assertAllWritersClosed(t, r, w)

	// The frame was intact, so the next message still reads.
	if _, err := raw.Write(frame(`{"op":"after"}`)); err != nil {
		t.Fatal(err)
	}
	var m msg
	if _, err := server.Receive(&m); err != nil || m.Op != "after" {
		t.Fatalf("after a malformed message: %+v, %v", m, err)
	}
}

func TestBrokenFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
		close bool
		want  string
		is    error
	}{
		{name: "empty message", bytes: frame(""), want: "empty message"},
		{name: "announced size over the limit", bytes: binary.BigEndian.AppendUint32(nil, MaxMessageSize+1), want: "65537 bytes", is: ErrTooLarge},
		{name: "huge announced size", bytes: []byte{0xff, 0xff, 0xff, 0xff}, is: ErrTooLarge},
		{name: "truncated body", bytes: frame(`{"op":"x"}`)[:8], close: true, is: io.ErrUnexpectedEOF},
		{name: "truncated header", bytes: []byte{0, 0}, close: true, is: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Listen(socketPath(t))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			raw, server := rawClient(t, l)
			r, w := pipe(t)
			if _, _, err := raw.WriteMsgUnix(tc.bytes, unix.UnixRights(int(w.Fd())), nil); err != nil {
				t.Fatal(err)
			}
			if tc.close {
				raw.CloseWrite()
			}
			_, err = server.Receive(&msg{})
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("Receive error %v, want a FrameError", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Receive error %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Receive error %q, want it to mention %q", err, tc.want)
			}
			assertAllWritersClosed(t, r, w)
			// The stream is out of step: later reads fail the same way.
			if _, err2 := server.Receive(&msg{}); !errors.As(err2, &fe) {
				t.Fatalf("second Receive = %v, want the sticky FrameError", err2)
			}
		})
	}
}

func TestDescriptorLimits(t *testing.T) {
	t.Run("sender refuses", func(t *testing.T) {
		client, _ := pair(t)
		_, w := pipe(t)
		files := make([]*os.File, MaxFiles+1)
		for i := range files {
			files[i] = w
		}
		if err := client.Send(msg{}, files...); !errors.Is(err, ErrTooManyFiles) {
			t.Fatalf("Send = %v, want ErrTooManyFiles", err)
		}
	})
	for _, n := range []int{MaxFiles + 1, 40} { // 40: beyond the receive buffer, the kernel truncates
		t.Run("receiver refuses "+string(rune('0'+n/10))+string(rune('0'+n%10)), func(t *testing.T) {
			l, err := Listen(socketPath(t))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			raw, server := rawClient(t, l)
			r, w := pipe(t)
			fds := make([]int, n)
			for i := range fds {
				fds[i] = int(w.Fd())
			}
			if _, _, err := raw.WriteMsgUnix(frame(`{"op":"many"}`), unix.UnixRights(fds...), nil); err != nil {
				t.Fatal(err)
			}
			files, err := server.Receive(&msg{})
			if !errors.Is(err, ErrTooManyFiles) || files != nil {
				t.Fatalf("Receive = %d files, %v; want ErrTooManyFiles", len(files), err)
			}
			assertAllWritersClosed(t, r, w)
		})
	}
}

func TestOversizedSendIsRefused(t *testing.T) {
	client, server := pair(t)
	err := client.Send(msg{Data: strings.Repeat("x", MaxMessageSize)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send = %v, want ErrTooLarge", err)
	}
	// Nothing was written: the next message is the first the server sees.
	if err := client.Send(msg{Op: "small"}); err != nil {
		t.Fatal(err)
	}
	var m msg
	if _, err := server.Receive(&m); err != nil || m.Op != "small" {
		t.Fatalf("got %+v, %v", m, err)
	}
}

func TestEOFAndDeadline(t *testing.T) {
	client, server := pair(t)
	server.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := server.Receive(&msg{}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Receive with nothing sent = %v, want a deadline error", err)
	}
	client2, server2 := pair(t)
	client2.Close()
	if _, err := server2.Receive(&msg{}); err != io.EOF {
		t.Fatalf("Receive after the peer closed = %v, want io.EOF", err)
	}
	_ = client
}

// serveEcho answers every message with the server's name.
func serveEcho(l *Listener, name string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				var m msg
				if _, err := c.Receive(&m); err != nil {
					return
				}
				if err := c.Send(msg{Op: m.Op, Data: name}); err != nil {
					return
				}
			}
		}()
	}
}

func ask(t *testing.T, c *Conn) string {
	t.Helper()
	if err := c.Send(msg{Op: "who"}); err != nil {
		t.Fatal(err)
	}
	var m msg
	if _, err := c.Receive(&m); err != nil {
		t.Fatal(err)
	}
	return m.Data
}

func TestTakeover(t *testing.T) {
	path := socketPath(t)
	old, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go serveEcho(old, "old")
	ctx := context.Background()
	oldConn, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer oldConn.Close()
	oldConn.SetDeadline(time.Now().Add(10 * time.Second))
	if got := ask(t, oldConn); got != "old" {
		t.Fatalf("first owner answered as %q", got)
	}

	current, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go serveEcho(current, "new")
	newConn, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer newConn.Close()
	newConn.SetDeadline(time.Now().Add(10 * time.Second))
	if got := ask(t, newConn); got != "new" {
		t.Fatalf("a client connecting after the takeover reached %q", got)
	}
	if got := ask(t, oldConn); got != "old" {
		t.Fatalf("the old owner's open connection answered as %q", got)
	}

	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ask(t, oldConn); got != "old" {
		t.Fatalf("an accepted connection must outlive its listener, got %q", got)
	}
	after, err := Dial(ctx, path)
	if err != nil {
		t.Fatalf("the old owner's Close removed the new owner's socket: %v", err)
	}
	after.SetDeadline(time.Now().Add(10 * time.Second))
	if got := ask(t, after); got != "new" {
		t.Fatalf("after the old owner exited, reached %q", got)
	}
	after.Close()

	if err := current.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the last owner's Close left %s behind: %v", path, err)
	}
	if _, err := Dial(ctx, path); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Dial with no owner = %v, want ENOENT", err)
	}
}
