package netns_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

func mustCurrent(t *testing.T) *netns.NS {
	t.Helper()
	ns, err := netns.Current()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func TestOpenIdentifiesNamespaces(t *testing.T) {
	netnstest.RequireRoot(t)
	home := mustCurrent(t)
	self, err := netns.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	if self.ID() != home.ID() || home.ID() == 0 {
		t.Fatalf("IDs of the same namespace differ: %d vs %d", self.ID(), home.ID())
	}
	fresh, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if fresh.ID() == home.ID() {
		t.Fatal("a new namespace has the ID of the current one")
	}
	again, err := netns.Open(fresh.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.ID() != fresh.ID() {
		t.Fatalf("reopening %s gave namespace %d, want %d", fresh.Path(), again.ID(), fresh.ID())
	}
	if after := mustCurrent(t); after.ID() != home.ID() {
		t.Fatal("New moved the caller's thread")
	}
}

func TestFromFileChecksTheType(t *testing.T) {
	netnstest.RequireRoot(t)
	regular, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	uts, err := os.Open("/proc/self/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    *os.File
		want string
	}{
		{"regular file", regular, "not a namespace file"},
		{"pipe", r, "not a namespace file"},
		{"uts namespace", uts, "a uts namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := netns.FromFile(tc.f)
			if !errors.Is(err, netns.ErrNotNetNS) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrNotNetNS saying %q", err, tc.want)
			}
			if err := tc.f.Close(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("FromFile left the rejected file open (Close: %v)", err)
			}
		})
	}
	if _, err := netns.Open(t.TempDir() + "/missing"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open(missing) = %v", err)
	}
}

// TestFromFileOverUnixSocket passes a namespace descriptor the way the CNI
// plugin hands it to ztunnel (SCM_RIGHTS) and checks it arrives as the same
// namespace.
func TestFromFileOverUnixSocket(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 1})
	pod := topo.Pods[0]
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := unix.Sendmsg(fds[0], []byte("x"), unix.UnixRights(pod.NS.Fd()), nil, 0); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(fds[1], buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	got, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != 1 {
		t.Fatalf("rights: %v %v", got, err)
	}
	ns, err := netns.FromFile(os.NewFile(uintptr(got[0]), "received"))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if ns.ID() != pod.NS.ID() {
		t.Fatalf("received namespace %d, sent %d", ns.ID(), pod.NS.ID())
	}
}

func TestDoRunsInsideAndReturns(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 1})
	pod := topo.Pods[0]
	home := mustCurrent(t)

	var inside uint64
	if err := pod.NS.Do(func() error {
		ns, err := netns.Current()
		if err != nil {
			return err
		}
		defer ns.Close()
		inside = ns.ID()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if inside != pod.NS.ID() {
		t.Fatalf("inside Do the thread is in %d, want %d", inside, pod.NS.ID())
	}

	errBoom := errors.New("boom")
	if err := pod.NS.Do(func() error { return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("Do returned %v, want fn's error", err)
	}

	func() {
		defer func() {
			if p := recover(); p != "panic inside" {
				t.Fatalf("recovered %v, want fn's panic", p)
			}
		}()
		pod.NS.Do(func() error { panic("panic inside") })
	}()

	// No thread is left behind in the pod: every goroutine still sees the
	// home namespace.
	for range 20 {
		if now := mustCurrent(t); now.ID() != home.ID() {
			t.Fatalf("a thread was left in namespace %d", now.ID())
		}
	}

	closed, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	ran := false
	if err := closed.Do(func() error { ran = true; return nil }); !errors.Is(err, os.ErrClosed) || ran {
		t.Fatalf("Do on a closed NS = %v (fn ran: %v), want os.ErrClosed", err, ran)
	}
}

// TestCloseDuringDo: closing an NS while other goroutines enter it never
// sends them into another namespace (its descriptor number may be reused
// at once by the next open).
func TestCloseDuringDo(t *testing.T) {
	netnstest.RequireRoot(t)
	for range 20 {
		ns, err := netns.New()
		if err != nil {
			t.Fatal(err)
		}
		id := ns.ID()
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() {
				errs <- ns.Do(func() error {
					cur, err := netns.Current()
					if err != nil {
						return err
					}
					defer cur.Close()
					if cur.ID() != id {
						return fmt.Errorf("entered namespace %d instead of %d", cur.ID(), id)
					}
					return nil
				})
			}()
		}
		ns.Close()
		other, err := netns.New() // likely reuses the closed descriptor number
		if err != nil {
			t.Fatal(err)
		}
		for range cap(errs) {
			if err := <-errs; err != nil && !errors.Is(err, os.ErrClosed) {
				t.Fatal(err)
			}
		}
		other.Close()
	}
}
