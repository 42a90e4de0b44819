package netns

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread inside n and returns fn's error once the
// thread is back in its own namespace. Sockets fn creates stay in n after
// Do returns. fn must not start goroutines that expect to be in n: only
// fn's own goroutine is. If fn panics, the panic is re-raised in the caller
// and the thread is discarded.
func (n *NS) Do(fn func() error) error {
	home, err := homeNS()
	if err != nil {
		return err
	}
	err = onFreshThread(func() (bool, error) {
		var serr error
		if err := n.WithFd(func(fd int) error { serr = unix.Setns(fd, unix.CLONE_NEWNET); return nil }); err != nil {
			return true, err
		}
		if serr != nil {
			// A failed setns leaves the thread where it was.
			return true, fmt.Errorf("netns: setns into %v: %w", n, serr)
		}
		ferr := fn()
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			return false, errors.Join(ferr, fmt.Errorf("netns: setns back from %v (thread discarded): %w", n, err))
		}
		return true, ferr
	})
	runtime.KeepAlive(n)
	return err
}

var homeState struct {
	once sync.Once
	fd   int
	err  error
}

// homeNS is a descriptor of the process's own network namespace, opened
// once (opening a /proc namespace link costs tens of microseconds). It is
// taken from a fresh thread: threads not locked by this package (or by the
// netlink libraries, which restore theirs too) are always in it, even when
// the main thread was moved elsewhere.
func homeNS() (int, error) {
	homeState.once.Do(func() {
		homeState.err = onFreshThread(func() (bool, error) {
			fd, err := unix.Open(threadNSPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return true, fmt.Errorf("netns: open the home namespace: %w", err)
			}
			if _, err := checkNetNS(fd); err != nil {
				unix.Close(fd)
				return true, fmt.Errorf("netns: home namespace: %w", err)
			}
			homeState.fd = fd
			return true, nil
		})
	})
	return homeState.fd, homeState.err
}

// onFreshThread runs fn on a new goroutine locked to its OS thread. fn
// reports whether it left the thread clean (in its original namespace); a
// thread that is not clean, or whose fn panicked, is never unlocked, so the
// goroutine exits locked and the runtime terminates the thread instead of
// reusing it. A panic in fn is re-raised in the caller's goroutine.
func onFreshThread(fn func() (clean bool, err error)) error {
	type result struct {
		err      error
		panicked bool
		value    any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var (
			r     result
			clean bool
		)
		defer func() {
			if p := recover(); p != nil {
				r.panicked, r.value = true, p
				clean = false
			}
			if clean {
				runtime.UnlockOSThread()
			}
			done <- r
		}()
		clean, r.err = fn()
	}()
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}
