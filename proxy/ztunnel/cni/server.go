package cni

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/uds"
)

// Handler is what the ztunnel does for the plugin's requests.
type Handler interface {
	// AddPod captures the pod whose network namespace is netns (or answers
	// that it is not enrolled). netns is closed when AddPod returns: keep a
	// duplicate to hold on to the namespace.
	AddPod(ctx context.Context, pod PodInfo, netns *os.File) Reply
	// DelPod releases the pod; it may already be gone.
	DelPod(ctx context.Context, pod PodInfo) Reply
}

// Checker is optionally implemented by a Handler to answer OpCheck; without
// it a check is answered with a plain success.
type Checker interface {
	CheckPod(ctx context.Context, pod PodInfo) Reply
}

// Defaults of Server.
const (
	// DefaultRequestTimeout stays under the plugin's default of 30s, so the
	// plugin gets the ztunnel's own explanation rather than a bare timeout.
	DefaultRequestTimeout = 25 * time.Second
	// DefaultIdleTimeout closes connections that send nothing.
	DefaultIdleTimeout = time.Minute
)

// Server answers the plugin's requests on the node socket.
type Server struct {
	Handler Handler
	Log     logr.Logger
	// RequestTimeout bounds one handler call (DefaultRequestTimeout if 0).
	RequestTimeout time.Duration
	// IdleTimeout bounds the wait for a request (DefaultIdleTimeout if 0).
	IdleTimeout time.Duration
}

// Serve runs a Server with default timeouts; see Server.Serve.
func Serve(ctx context.Context, l *uds.Listener, h Handler, log logr.Logger) error {
	return (&Server{Handler: h, Log: log}).Serve(ctx, l)
}

// Serve accepts connections on l, each served concurrently, until ctx
// ends; then it closes l (which unlinks the socket only if it is still
// ours), lets requests being handled finish and returns nil. A panicking
// handler fails its request, never the server.
func (s *Server) Serve(ctx context.Context, l *uds.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[*uds.Conn]struct{}{}
	)
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		// Wakes connections waiting for a request; one being handled
		// answers first, then finds the past deadline.
		for c := range conns {
			c.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	defer wg.Wait()

	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("node socket %s closed: %w", l.Path(), err)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: wait a little rather than spin.
			s.Log.Error(err, "Accepting a plugin connection failed", "socket", l.Path())
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		mu.Lock()
		if ctx.Err() != nil {
			c.SetReadDeadline(time.Now())
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, c *uds.Conn) {
	for ctx.Err() == nil {
		c.SetReadDeadline(time.Now().Add(orDefault(s.IdleTimeout, DefaultIdleTimeout)))
		var req Request
		files, err := c.Receive(&req)
		if err != nil {
			var de *uds.DecodeError
			if errors.As(err, &de) {
				s.Log.Info("Rejected a malformed plugin request", "error", err.Error())
				if c.Send(Reply{Error: "ztunnel: " + err.Error()}) != nil {
					return
				}
				continue
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
				s.Log.Info("Dropped a plugin connection", "error", err.Error())
			}
			return
		}
		reply := s.handle(ctx, req, files)
		c.SetWriteDeadline(time.Now().Add(orDefault(s.IdleTimeout, DefaultIdleTimeout)))
		if err := c.Send(reply); err != nil {
			s.Log.Error(err, "Could not answer the plugin", "op", req.Op, "pod", req.Pod.String())
			return
		}
	}
}

// handle validates one request, runs the handler under a timeout and
// always produces a reply. The descriptors are closed as soon as the
// handler returns (before its reply is sent), even if it outlives its
// timeout.
func (s *Server) handle(ctx context.Context, req Request, files []*os.File) Reply {
	start := time.Now()
	log := s.Log.WithValues("op", req.Op, "pod", req.Pod.String(), "containerID", req.Pod.ContainerID)
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	if err := validate(req, files); err != nil {
		closeAll()
		log.Info("Rejected a plugin request", "error", err.Error())
		return Reply{Error: "ztunnel: " + err.Error()}
	}

	timeout := orDefault(s.RequestTimeout, DefaultRequestTimeout)
	// The request outlives a shutdown of this server: a pod being
	// captured is finished, not abandoned half way.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	done := make(chan Reply, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				closeAll()
				log.Error(fmt.Errorf("panic: %v", p), "Handler panicked", "stack", string(debug.Stack()))
				done <- Reply{Error: fmt.Sprintf("ztunnel: internal error while handling %s for pod %s: %v", req.Op, req.Pod, p)}
			}
		}()
		reply := s.call(hctx, req, files)
		closeAll()
		done <- reply
	}()

	var reply Reply
	select {
	case reply = <-done:
	case <-hctx.Done():
		reply = Reply{Error: fmt.Sprintf("ztunnel: %s for pod %s did not finish within %s", req.Op, req.Pod, timeout)}
	}
	kv := []any{"captured", reply.Captured, "duration", time.Since(start).String()}
	if reply.Message != "" {
		kv = append(kv, "message", reply.Message)
	}
	if reply.Error != "" {
		log.Error(errors.New(reply.Error), "Plugin request failed", kv...)
	} else {
		log.Info("Plugin request handled", kv...)
	}
	return reply
}

func (s *Server) call(ctx context.Context, req Request, files []*os.File) Reply {
	switch req.Op {
	case OpAdd:
		return s.Handler.AddPod(ctx, req.Pod, files[0])
	case OpDel:
		return s.Handler.DelPod(ctx, req.Pod)
	default: // OpCheck
		if c, ok := s.Handler.(Checker); ok {
			return c.CheckPod(ctx, req.Pod)
		}
		return Reply{Message: "check not implemented by this ztunnel"}
	}
}

func validate(req Request, files []*os.File) error {
	if err := req.Validate(); err != nil {
		return err
	}
	want := 0
	if req.Op == OpAdd {
		want = 1
	}
	if len(files) != want {
		return fmt.Errorf("%s request for pod %s carried %d file descriptors, want %d (the pod's network namespace)", req.Op, req.Pod, len(files), want)
	}
	if want == 1 {
		t, err := unix.IoctlRetInt(int(files[0].Fd()), unix.NS_GET_NSTYPE)
		if err != nil || t != unix.CLONE_NEWNET {
			return fmt.Errorf("add request for pod %s: the descriptor sent is not a network namespace (netns %q)", req.Pod, req.Pod.NetnsPath)
		}
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
