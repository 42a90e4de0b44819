package uds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// Listener accepts message connections on a socket file that a newer
// process may take over (see Listen).
type Listener struct {
	l    *net.UnixListener
	path string
	dev  uint64
	ino  uint64
}

// Listen binds a socket under a private temporary name next to path, makes
// it 0600 (only root on the node may talk to the ztunnel) and renames it over
// path. The rename is atomic: a client connecting after Listen returns
// reaches this listener, a client never finds the path missing, and a
// previous owner's open connections keep working. This is how a new ztunnel
// becomes current during an upgrade.
func Listen(path string) (*Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("uds: creating socket directory: %w", err)
	}
	// A 0700 directory keeps the socket unreachable for anyone but root
	// while it still has the default mode; short names respect sun_path's
	// 108 bytes.
	tmpDir, err := os.MkdirTemp(dir, ".uds")
	if err != nil {
		return nil, fmt.Errorf("uds: creating temporary socket directory: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")

	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("uds: listening on %s: %w", path, err)
	}
	// The bound name moves; Close decides about unlinking itself.
	l.SetUnlinkOnClose(false)
	ln := &Listener{l: l, path: path}
	if err := ln.claim(tmp); err != nil {
		l.Close()
		return nil, err
	}
	return ln, nil
}

func (ln *Listener) claim(tmp string) error {
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("uds: restricting %s: %w", tmp, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(tmp, &st); err != nil {
		return fmt.Errorf("uds: %w", err)
	}
	ln.dev, ln.ino = st.Dev, st.Ino
	if err := os.Rename(tmp, ln.path); err != nil {
		return fmt.Errorf("uds: taking over %s: %w", ln.path, err)
	}
	return nil
}

// Path is the socket file's path.
func (ln *Listener) Path() string { return ln.path }

// Accept waits for the next connection.
func (ln *Listener) Accept() (*Conn, error) {
	c, err := ln.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return NewConn(c), nil
}

// Close stops accepting and removes the socket file, but only while it
// still is ours: after a takeover the path names the new owner's socket,
// which an exiting old process must leave alone. (A takeover between the
// check and the unlink is not excluded; it needs both to happen within
// microseconds of each other.)
func (ln *Listener) Close() error {
	err := ln.l.Close()
	if ln.owns() {
		if rerr := os.Remove(ln.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

func (ln *Listener) owns() bool {
	var st syscall.Stat_t
	if err := syscall.Stat(ln.path, &st); err != nil {
		return false
	}
	return st.Dev == ln.dev && st.Ino == ln.ino
}
