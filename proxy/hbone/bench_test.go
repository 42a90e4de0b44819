package hbone

import (
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// Benchmarks compare HBONE with plain loopback TCP measured in the same
// run; test/bench/hbone.sh turns them into ratios (docs/perf-hbone.md).

type benchEnv struct {
	client *Client
	proxy  netip.AddrPort
}

func newBenchEnv(b *testing.B, handler Handler) *benchEnv {
	ca := identitytest.NewCA("root")
	srv := startServer(b, ca, serverOpts{handler: handler})
	return &benchEnv{client: newTestClient(b, ca, nil, nil), proxy: srv.addr}
}

func (e *benchEnv) dial(b *testing.B, target netip.AddrPort) *Stream {
	s, err := e.client.Dial(context.Background(), dialReq(target, e.proxy))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// sinkTarget counts bytes it receives and reports the total at EOF.
func sinkTarget(b *testing.B) (netip.AddrPort, chan int64) {
	done := make(chan int64, 16)
	addr := tcpTarget(b, func(c *net.TCPConn) {
		n, _ := io.Copy(io.Discard, c)
		done <- n
	})
	return addr, done
}

const throughputChunk = 256 << 10

// pump writes b.N chunks into w and waits until the sink saw them all.
func pump(b *testing.B, w interface {
	io.Writer
	CloseWrite() error
}, done chan int64) {
	buf := make([]byte, throughputChunk)
	b.SetBytes(throughputChunk)
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	w.CloseWrite()
	if n := <-done; n != int64(b.N)*throughputChunk {
		b.Fatalf("sink got %d bytes, want %d", n, int64(b.N)*throughputChunk)
	}
}

// BenchmarkThroughput: one stream, client → server.
//   - direct-tcp: baseline, loopback TCP to a sink.
//   - hbone-tcp-target: HBONE to the server, which splices to a TCP sink
//     (ztunnel inbound: tunnel + one more loopback hop).
//   - hbone-handler: HBONE to a handler that discards (tunnel cost only,
//     the waypoint's case).
func BenchmarkThroughput(b *testing.B) {
	b.Run("direct-tcp", func(b *testing.B) {
		target, done := sinkTarget(b)
		c, err := net.Dial("tcp", target.String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		pump(b, c.(*net.TCPConn), done)
	})
	b.Run("hbone-tcp-target", func(b *testing.B) {
		env := newBenchEnv(b, nil)
		target, done := sinkTarget(b)
		s := env.dial(b, target)
		defer s.Close()
		pump(b, s, done)
	})
	b.Run("hbone-handler", func(b *testing.B) {
		done := make(chan int64, 1)
		env := newBenchEnv(b, HandlerFunc(func(_ context.Context, _ *ConnectRequest, s *Stream) {
			s.Accept()
			n, _ := io.Copy(io.Discard, s)
			done <- n
		}))
		s := env.dial(b, netip.MustParseAddrPort("10.0.0.1:80"))
		defer s.Close()
		pump(b, s, done)
	})
}

// latencyRate is the fixed request rate of the latency benchmarks.
const latencyRate = 1000 // requests per second

// measure sends b.N small requests at latencyRate through rt and reports
// the round-trip percentiles in microseconds.
func measure(b *testing.B, rt func() error) {
	lat := make([]time.Duration, 0, b.N)
	tick := time.NewTicker(time.Second / latencyRate)
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		start := time.Now()
		if err := rt(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
	b.ReportMetric(0, "ns/op") // wall time per op is just the pacing
}

// pingPong writes a 64-byte request and reads the 64-byte echo.
func pingPong(c io.ReadWriter, buf []byte) error {
	if _, err := c.Write(buf); err != nil {
		return err
	}
	_, err := io.ReadFull(c, buf)
	return err
}

// BenchmarkLatency: small request/response pairs at 1,000 req/s over a
// persistent connection or stream, and with a new connection or stream per
// request (each application TCP connection becomes a new HBONE stream).
// Run with -benchtime=Nx; ns/op is meaningless, see p50-us/p99-us.
func BenchmarkLatency(b *testing.B) {
	buf := make([]byte, 64)
	b.Run("direct-tcp-persistent", func(b *testing.B) {
		c, err := net.Dial("tcp", echoTarget(b).String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		measure(b, func() error { return pingPong(c, buf) })
	})
	b.Run("hbone-persistent", func(b *testing.B) {
		env := newBenchEnv(b, nil)
		s := env.dial(b, echoTarget(b))
		defer s.Close()
		measure(b, func() error { return pingPong(s, buf) })
	})
	b.Run("direct-tcp-per-request", func(b *testing.B) {
		target := echoTarget(b)
		measure(b, func() error {
			c, err := net.Dial("tcp", target.String())
			if err != nil {
				return err
			}
			defer c.Close()
			return pingPong(c, buf)
		})
	})
	b.Run("hbone-per-request", func(b *testing.B) {
		env := newBenchEnv(b, nil)
		target := echoTarget(b)
		env.dial(b, target).Close() // warm the pooled connection
		measure(b, func() error {
			s, err := env.client.Dial(context.Background(), dialReq(target, env.proxy))
			if err != nil {
				return err
			}
			defer s.Close()
			return pingPong(s, buf)
		})
	})
}

// BenchmarkStreamLifecycle: allocations and time to open a stream on a
// pooled connection, exchange 64 bytes and close it — client and server
// side together, handler answering in-process (no TCP target).
func BenchmarkStreamLifecycle(b *testing.B) {
	var served atomic.Int64
	env := newBenchEnv(b, HandlerFunc(func(_ context.Context, _ *ConnectRequest, s *Stream) {
		s.Accept()
		buf := make([]byte, 64)
		if _, err := io.ReadFull(s, buf); err == nil {
			s.Write(buf)
		}
		served.Add(1)
	}))
	target := netip.MustParseAddrPort("10.0.0.1:80")
	env.dial(b, target).Close()
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := env.client.Dial(context.Background(), dialReq(target, env.proxy))
		if err != nil {
			b.Fatal(err)
		}
		if err := pingPong(s, buf); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
