// Package netns opens, enters and finds network namespaces: the pod
// namespaces in which ztunnel installs capture rules and opens its
// listeners and connections.
//
// Entering a namespace is per OS thread (setns). Every function here that
// switches namespaces does so on a fresh goroutine locked to its thread and
// switches back before unlocking; if switching back fails the goroutine
// exits locked, which makes the Go runtime discard the thread rather than
// reuse one left in a foreign namespace.
package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNotNetNS is returned (wrapped) when a file is not a network namespace.
var ErrNotNetNS = errors.New("not a network namespace")

// NS is an open network namespace file (nsfs). The namespace lives at least
// as long as the NS is open.
type NS struct {
	f  *os.File
	id uint64
}

// Open opens the network namespace at path, e.g. /proc/<pid>/ns/net or the
// netns path a CNI runtime passes.
func Open(path string) (*NS, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	return FromFile(f)
}

// FromFile takes ownership of f (e.g. a descriptor received over a UNIX
// socket) and checks that it is a network namespace. On error f is closed.
func FromFile(f *os.File) (*NS, error) {
	if f == nil {
		return nil, errors.New("netns: nil file")
	}
	id, err := checkNetNS(int(f.Fd()))
	runtime.KeepAlive(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netns: %s: %w", f.Name(), err)
	}
	return &NS{f: f, id: id}, nil
}

// Current opens the network namespace of the calling OS thread (for an
// unlocked goroutine: the process's namespace).
func Current() (*NS, error) {
	return Open(threadNSPath())
}

// New creates a new, empty network namespace (only a down loopback
// interface). It lives as long as the returned NS is open or something else
// (a process, a socket) holds it. Needs CAP_SYS_ADMIN.
func New() (*NS, error) {
	home, err := homeNS()
	if err != nil {
		return nil, err
	}
	var ns *NS
	err = onFreshThread(func() (bool, error) {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return true, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		opened, oerr := Open(threadNSPath())
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			if opened != nil {
				opened.Close()
			}
			return false, errors.Join(oerr, fmt.Errorf("setns back to the home namespace: %w", err))
		}
		ns = opened
		return true, oerr
	})
	if err != nil {
		return nil, fmt.Errorf("netns: new: %w", err)
	}
	return ns, nil
}

// Fd is the namespace file descriptor; valid until Close. Code that may
// run concurrently with Close should use WithFd instead.
func (n *NS) Fd() int { return int(n.f.Fd()) }

// WithFd runs fn with the namespace descriptor, which stays open until fn
// returns even if Close is called meanwhile (so its number can never be
// reused for another file under fn). After Close it returns an error
// wrapping os.ErrClosed without calling fn.
func (n *NS) WithFd(fn func(fd int) error) error {
	rc, err := n.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("netns: %v: %w", n, err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		// The only way Control fails on a valid *os.File.
		return fmt.Errorf("netns: %v: %w", n, os.ErrClosed)
	}
	return ferr
}

// File is the namespace file; closing it closes the NS.
func (n *NS) File() *os.File { return n.f }

// ID is the namespace's inode number: two NS with equal IDs are the same
// namespace.
func (n *NS) ID() uint64 { return n.id }

// Path is a path under /proc through which this process can reopen the
// namespace while the NS is open (e.g. for a CNI_NETNS variable).
func (n *NS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.Fd()) }

func (n *NS) String() string { return fmt.Sprintf("netns:[%d]", n.id) }

// Close releases the namespace file.
func (n *NS) Close() error {
	if n == nil || n.f == nil {
		return nil
	}
	return n.f.Close()
}

// checkNetNS verifies that fd is an nsfs file of a network namespace and
// returns its inode number.
func checkNetNS(fd int) (uint64, error) {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return 0, fmt.Errorf("fstatfs: %w", err)
	}
	if fs.Type != unix.NSFS_MAGIC {
		return 0, fmt.Errorf("%w: not a namespace file (filesystem magic %#x)", ErrNotNetNS, fs.Type)
	}
	t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		return 0, fmt.Errorf("ioctl(NS_GET_NSTYPE): %w", err)
	}
	if t != unix.CLONE_NEWNET {
		return 0, fmt.Errorf("%w: a %s namespace", ErrNotNetNS, nsTypeName(t))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("fstat: %w", err)
	}
	return st.Ino, nil
}

func nsTypeName(t int) string {
	switch t {
	case unix.CLONE_NEWNS:
		return "mount"
	case unix.CLONE_NEWUTS:
		return "uts"
	case unix.CLONE_NEWIPC:
		return "ipc"
	case unix.CLONE_NEWUSER:
		return "user"
	case unix.CLONE_NEWPID:
		return "pid"
	case unix.CLONE_NEWCGROUP:
		return "cgroup"
	case unix.CLONE_NEWTIME:
		return "time"
	}
	return fmt.Sprintf("type-%#x", t)
}

func threadNSPath() string { return fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()) }
