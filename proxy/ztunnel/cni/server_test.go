package cni

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/uds"
)

// recordingHandler is a ztunnel stand-in that records what it got: the pod
// and the inode of the namespace descriptor it was handed.
type recordingHandler struct {
	mu      sync.Mutex
	added   []PodInfo
	inodes  []uint64
	handed  []*os.File // as received, to check the server closes them
	deleted []PodInfo
	add     func(ctx context.Context, pod PodInfo) Reply
}

func (h *recordingHandler) AddPod(ctx context.Context, pod PodInfo, netns *os.File) Reply {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(netns.Fd()), &st); err != nil {
		return Reply{Error: err.Error()}
	}
	h.mu.Lock()
	h.added = append(h.added, pod)
	h.inodes = append(h.inodes, st.Ino)
	h.handed = append(h.handed, netns)
	h.mu.Unlock()
	if h.add != nil {
		return h.add(ctx, pod)
	}
	return Reply{Captured: true, Message: "captured"}
}

func (h *recordingHandler) DelPod(ctx context.Context, pod PodInfo) Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deleted = append(h.deleted, pod)
	return Reply{Message: "released"}
}

// seen returns copies of what the handler recorded.
func (h *recordingHandler) seen() (added []PodInfo, inodes []uint64, deleted []PodInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.added), slices.Clone(h.inodes), slices.Clone(h.deleted)
}

type server struct {
	path   string
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan error
}

func startServer(t *testing.T, h Handler, configure func(*Server)) *server {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "ztunnel.sock")
	l, err := uds.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	s := &Server{Handler: h, Log: logs.logger(t)}
	if configure != nil {
		configure(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &server{path: path, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { srv.done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		<-srv.done
	})
	return srv
}

func testPod(name string) PodInfo {
	return PodInfo{Namespace: "shop", Name: name, UID: "uid-" + name, ContainerID: "c-" + name,
		NetnsPath: "/proc/self/ns/net", IfName: "eth0", IPs: []string{"10.1.0.7"}}
}

func openNetns(t *testing.T) (*os.File, uint64) {
	t.Helper()
	f, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return f, st.Ino
}

func notify(t *testing.T, path string, req Request, netns *os.File) (Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Notify(ctx, path, req, netns)
}

func TestAddHandsOverTheNamespace(t *testing.T) {
	h := &recordingHandler{}
	srv := startServer(t, h, nil)
	netns, ino := openNetns(t)
	pod := testPod("web-1")
	reply, err := notify(t, srv.path, Request{Op: OpAdd, Pod: pod}, netns)
	if err != nil || !reply.Captured || reply.Error != "" {
		t.Fatalf("Notify = %+v, %v; want captured", reply, err)
	}
	added, inodes, _ := h.seen()
	if len(added) != 1 || added[0].Name != "web-1" || added[0].IPs[0] != "10.1.0.7" || added[0].UID != "uid-web-1" {
		t.Fatalf("handler got %+v", added)
	}
	if inodes[0] != ino {
		t.Fatalf("handler's namespace has inode %d, the pod's is %d", inodes[0], ino)
	}
	// The contract: the server closes the descriptor once AddPod returned,
	// before it answers (a handler keeps a duplicate if it needs one).
	h.mu.Lock()
	handed := h.handed[0]
	h.mu.Unlock()
	if err := handed.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the namespace descriptor was still open after the reply (Close = %v)", err)
	}
	if !srv.logs.contains("shop/web-1") {
		t.Fatalf("the log does not name the pod:\n%s", srv.logs)
	}

	reply, err = notify(t, srv.path, Request{Op: OpDel, Pod: pod}, nil)
	if _, _, deleted := h.seen(); err != nil || reply.Message != "released" || len(deleted) != 1 {
		t.Fatalf("del: %+v, %v, handler saw %d", reply, err, len(deleted))
	}
	reply, err = notify(t, srv.path, Request{Op: OpCheck, Pod: pod}, nil)
	if err != nil || reply.Error != "" {
		t.Fatalf("check without a Checker: %+v, %v", reply, err)
	}
}

func TestBadRequestsGetAnError(t *testing.T) {
	h := &recordingHandler{}
	srv := startServer(t, h, nil)
	netns, _ := openNetns(t)
	notANetns, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer notANetns.Close()
	pod := testPod("x")
	for _, tc := range []struct {
		name  string
		req   Request
		netns *os.File
		want  string
	}{
		{"add without namespace", Request{Op: OpAdd, Pod: pod}, nil, "carried 0 file descriptors"},
		{"add with a plain file", Request{Op: OpAdd, Pod: pod}, notANetns, "not a network namespace"},
		{"del with a descriptor", Request{Op: OpDel, Pod: pod}, netns, "carried 1 file descriptors, want 0"},
		{"unknown op", Request{Op: "frobnicate", Pod: pod}, nil, `unknown op "frobnicate"`},
		{"no op", Request{Pod: pod}, nil, "no op"},
		{"no pod name", Request{Op: OpDel, Pod: PodInfo{Namespace: "shop", ContainerID: "c"}}, nil, "without pod namespace and name"},
		{"no container", Request{Op: OpDel, Pod: PodInfo{Namespace: "shop", Name: "n"}}, nil, "without container ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := notify(t, srv.path, tc.req, tc.netns)
			if err != nil {
				t.Fatal(err)
			}
			if reply.Captured || !strings.Contains(reply.Error, tc.want) {
				t.Fatalf("reply %+v, want an error containing %q", reply, tc.want)
			}
		})
	}
	if added, _, deleted := h.seen(); len(added)+len(deleted) != 0 {
		t.Fatalf("the handler was called for invalid requests: %+v %+v", added, deleted)
	}
}

func TestMalformedRequestIsAnsweredAndConnectionSurvives(t *testing.T) {
	srv := startServer(t, &recordingHandler{}, nil)
	raw, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: srv.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := raw.Write([]byte{0, 0, 0, 5, '{', '"', 'o', 'p', '"'}); err != nil {
		t.Fatal(err)
	}
	c := uds.NewConn(raw)
	var reply Reply
	if _, err := c.Receive(&reply); err != nil || !strings.Contains(reply.Error, "malformed") {
		t.Fatalf("reply to garbage: %+v, %v", reply, err)
	}
	if err := c.Send(Request{Op: OpDel, Pod: testPod("after")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receive(&reply); err != nil || reply.Message != "released" {
		t.Fatalf("the connection did not survive: %+v, %v", reply, err)
	}
}

func TestPanickingHandlerFailsOnlyItsRequest(t *testing.T) {
	h := &recordingHandler{add: func(ctx context.Context, pod PodInfo) Reply {
		if pod.Name == "boom" {
			panic("nil map in capture")
		}
		return Reply{Captured: true}
	}}
	srv := startServer(t, h, nil)
	netns, _ := openNetns(t)
	reply, err := notify(t, srv.path, Request{Op: OpAdd, Pod: testPod("boom")}, netns)
	if err != nil || !strings.Contains(reply.Error, "internal error") || !strings.Contains(reply.Error, "shop/boom") {
		t.Fatalf("reply for the panicking pod: %+v, %v", reply, err)
	}
	reply, err = notify(t, srv.path, Request{Op: OpAdd, Pod: testPod("fine")}, netns)
	if err != nil || !reply.Captured {
		t.Fatalf("the server did not survive a panic: %+v, %v", reply, err)
	}
}

func TestSlowHandlerTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := &recordingHandler{add: func(ctx context.Context, pod PodInfo) Reply {
		<-release // ignores ctx, like a stuck syscall
		return Reply{Captured: true}
	}}
	srv := startServer(t, h, func(s *Server) { s.RequestTimeout = 100 * time.Millisecond })
	netns, _ := openNetns(t)
	reply, err := notify(t, srv.path, Request{Op: OpAdd, Pod: testPod("slow")}, netns)
	if err != nil || !strings.Contains(reply.Error, "did not finish within 100ms") {
		t.Fatalf("reply: %+v, %v", reply, err)
	}
}

func TestRequestsAreServedConcurrently(t *testing.T) {
	const n = 8
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	h := &recordingHandler{add: func(ctx context.Context, pod PodInfo) Reply {
		arrived <- struct{}{}
		select {
		case <-all: // every request is inside a handler at once
			return Reply{Captured: true}
		case <-ctx.Done():
			return Reply{Error: "not concurrent"}
		}
	}}
	srv := startServer(t, h, func(s *Server) { s.RequestTimeout = 5 * time.Second })
	go func() {
		for range n {
			<-arrived
		}
		close(all)
	}()
	netns, _ := openNetns(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := notify(t, srv.path, Request{Op: OpAdd, Pod: testPod("p" + string(rune('a'+i)))}, netns)
			if err == nil && !reply.Captured {
				err = errors.New(reply.Error)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	entered := make(chan struct{})
	h := &recordingHandler{add: func(ctx context.Context, pod PodInfo) Reply {
		close(entered)
		time.Sleep(200 * time.Millisecond)
		if ctx.Err() != nil {
			return Reply{Error: "cancelled by shutdown"}
		}
		return Reply{Captured: true}
	}}
	srv := startServer(t, h, nil)
	netns, _ := openNetns(t)
	got := make(chan Reply, 1)
	go func() {
		reply, err := notify(t, srv.path, Request{Op: OpAdd, Pod: testPod("inflight")}, netns)
		if err != nil {
			reply.Error = err.Error()
		}
		got <- reply
	}()
	<-entered
	srv.cancel()
	if reply := <-got; !reply.Captured {
		t.Fatalf("the request in flight at shutdown got %+v", reply)
	}
	if err := <-srv.done; err != nil {
		t.Fatalf("Serve returned %v after shutdown", err)
	}
	srv.done <- nil // for the cleanup
	if _, err := os.Stat(srv.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket outlived the server: %v", err)
	}
	if _, err := notify(t, srv.path, Request{Op: OpDel, Pod: testPod("x")}, nil); !errors.Is(err, ErrNoZtunnel) {
		t.Fatalf("after shutdown: %v, want ErrNoZtunnel", err)
	}
}

func TestNotifyTellsMissingZtunnelFromOtherFailures(t *testing.T) {
	dir := shortTempDir(t)

	// A socket file whose owner died (SIGKILL leaves it behind).
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	// A ztunnel that accepts and hangs up without answering.
	mute := filepath.Join(dir, "mute.sock")
	ml, err := uds.Listen(mute)
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close()
	go func() {
		for {
			c, err := ml.Accept()
			if err != nil {
				return
			}
			var req Request
			c.Receive(&req)
			c.Close()
		}
	}()

	// A ztunnel that never answers.
	block := make(chan struct{})
	defer close(block)
	hangSrv := startServer(t, &recordingHandler{add: func(ctx context.Context, pod PodInfo) Reply {
		<-block
		return Reply{}
	}}, nil)

	netns, _ := openNetns(t)
	for _, tc := range []struct {
		name      string
		path      string
		timeout   time.Duration
		noZtunnel bool
		want      string
	}{
		{"no socket file", filepath.Join(dir, "absent.sock"), time.Second, true, "no such file"},
		{"stale socket file", stale, time.Second, true, "connection refused"},
		{"hung up without answer", mute, time.Second, false, "waiting for the ztunnel's answer"},
		{"no answer in time", hangSrv.path, 200 * time.Millisecond, false, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			_, err := Notify(ctx, tc.path, Request{Op: OpAdd, Pod: testPod("p")}, netns)
			if err == nil || errors.Is(err, ErrNoZtunnel) != tc.noZtunnel || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Notify error %v; want ErrNoZtunnel=%v mentioning %q", err, tc.noZtunnel, tc.want)
			}
		})
	}
}
