package hbone

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// exchange sends a message, half-closes, and checks the echo.
func exchange(s *Stream, msg []byte, pause time.Duration) error {
	defer s.Close()
	if _, err := s.Write(msg[:len(msg)/2]); err != nil {
		return err
	}
	time.Sleep(pause) // keep the stream in flight across the GOAWAY
	if _, err := s.Write(msg[len(msg)/2:]); err != nil {
		return err
	}
	if err := s.CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo mismatch: %d bytes back, want %d", len(got), len(msg))
	}
	return nil
}

// TestGoAwayDrainLosesNoStream: streams in flight when the server sends
// GOAWAY finish, and streams opened during and after it go to a new
// connection; none fails.
func TestGoAwayDrainLosesNoStream(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	var dials atomic.Int64
	client := newTestClient(t, ca, nil, func(c *ClientConfig) {
		c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	})
	target := echoTarget(t)

	var failed atomic.Int64
	var wg sync.WaitGroup
	run := func(n int, pause time.Duration) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
				if err == nil {
					err = exchange(s, randBytes(64<<10), pause)
				}
				if err != nil {
					failed.Add(1)
					t.Error(err)
				}
			}()
		}
	}
	run(50, 300*time.Millisecond)
	// Let them open on the first connection (polling, not a fixed sleep: on
	// a loaded machine the first dial can take longer than any guess).
	for deadline := time.Now().Add(10 * time.Second); client.Stats().Streams == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	srv.srv.Drain()
	run(50, 0) // races with the GOAWAY: refused streams are retried
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	run(10, 0) // after: a fresh connection
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d streams failed across GOAWAY", failed.Load())
	}
	if dials.Load() < 2 {
		t.Errorf("all streams used %d connection(s); after GOAWAY a new one was expected", dials.Load())
	}
}

// TestShutdownWaitsForStreams: Shutdown lets in-flight streams complete.
func TestShutdownWaitsForStreams(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, nil)
	target := echoTarget(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- exchange(s, randBytes(32<<10), 200*time.Millisecond)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
