package waypoint

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkForwardHTTP1 measures the proxy path in-process (client, proxy
// and backend share the CPU, so use it for profiles and regressions, and
// test/bench/waypoint.sh for figures).
func BenchmarkForwardHTTP1(b *testing.B) {
	be := startBackend(b, "b", false)
	w := newWorld()
	web := w.service("app", "web", "http", be.addr)
	p := newProxy(b, w, Config{})
	addr, _ := listenProxy(b, p, web)
	c := h1Client(addr)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get("http://web/bench")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
