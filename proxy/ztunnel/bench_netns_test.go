//go:build linux

package ztunnel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBenchZtunnel measures the mesh path against plain pod-to-pod in the
// same run: two ztunnel processes, an HTTP client in client-0 (node-a) and
// a server in server-1 (node-b), versus plain-2 to outside-3 (neither
// enrolled) on the same bridge. Run with `make bench-ztunnel`.
func TestBenchZtunnel(t *testing.T) {
	if os.Getenv("WAYFABRIC_BENCH_ZTUNNEL") == "" {
		t.Skip("a measurement, not a test: run `make bench-ztunnel`")
	}
	rps := envInt("BENCH_RPS", 1000)
	dur := time.Duration(envInt("BENCH_SECONDS", 20)) * time.Second
	bulk := int64(envInt("BENCH_BULK_MB", 1024)) << 20

	e := newMeshEnv(t)
	client0, server1, plain2, outside3 := e.pods["client-0"], e.pods["server-1"], e.pods["plain-2"], e.pods["outside-3"]
	profile := os.Getenv("BENCH_PPROF_DIR") // CPU and heap profiles of node-a's ztunnel
	debugAddr := freeAddr(t)
	e.extraArgs = []string{"--debug-addr=" + debugAddr}
	za := e.startZtunnel("node-a", "a")
	e.extraArgs = nil
	zb := e.startZtunnel("node-b", "b")
	for _, c := range []struct {
		p *meshPod
		z *ztunnelProc
	}{{client0, za}, {server1, zb}, {plain2, za}, {outside3, zb}} {
		if out, err := e.cniAdd(c.p, c.z); err != nil {
			t.Fatalf("CNI ADD %s: %v\n%s", c.p.name, err, out)
		}
	}
	e.startHTTP(server1)
	e.startHTTP(outside3)

	type result struct {
		name       string
		lat        latencies
		cpuA, cpuB float64 // ztunnel CPU seconds during the run
		rssA, rssB int64   // ztunnel RSS (kB) at the end
		bulkMbps   float64
	}
	run := func(name string, from *meshPod, to netip.AddrPort) result {
		r := result{name: name}
		// Warm up: connections and certificates.
		if _, err := httpLoad(from, to, 50, 2*time.Second); err != nil {
			t.Fatalf("%s warm-up: %v", name, err)
		}
		ca0, cb0 := cpuSeconds(t, za), cpuSeconds(t, zb)
		if profile != "" && name == "mesh" {
			go fetch(t, "http://"+debugAddr+fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(dur.Seconds()/2)), filepath.Join(profile, "ztunnel-cpu.pprof"))
		}
		lat, err := httpLoad(from, to, rps, dur)
		if profile != "" && name == "mesh" {
			fetch(t, "http://"+debugAddr+"/debug/pprof/heap", filepath.Join(profile, "ztunnel-heap.pprof"))
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r.lat = lat
		r.cpuA, r.cpuB = cpuSeconds(t, za)-ca0, cpuSeconds(t, zb)-cb0
		r.rssA, r.rssB = rssKB(t, za), rssKB(t, zb)
		r.bulkMbps = bulkMbps(t, from, to, bulk)
		return r
	}
	// Alternate twice so a noisy moment does not land on one side only.
	var mesh, plain []result
	for range 2 {
		plain = append(plain, run("plain", plain2, outside3.AddrPort(echoPort)))
		mesh = append(mesh, run("mesh", client0, server1.AddrPort(echoPort)))
	}
	best := func(rs []result) result { // the lower p99 of the two rounds
		slices.SortFunc(rs, func(a, b result) int { return int(a.lat.p(0.99) - b.lat.p(0.99)) })
		return rs[0]
	}
	m, p := best(mesh), best(plain)
	cpu := (m.cpuA + m.cpuB) / dur.Seconds() / (float64(rps) / 1000)
	fmt.Printf("\n| figure (%d req/s, %v, HTTP/1.1 keep-alive) | mesh: two ztunnels | plain pod to pod | mesh − plain / ratio |\n|---|---|---|---|\n", rps, dur)
	fmt.Printf("| p50 latency | %.3f ms | %.3f ms | +%.3f ms |\n", ms(m.lat.p(0.5)), ms(p.lat.p(0.5)), ms(m.lat.p(0.5)-p.lat.p(0.5)))
	fmt.Printf("| p99 latency | %.3f ms | %.3f ms | +%.3f ms |\n", ms(m.lat.p(0.99)), ms(p.lat.p(0.99)), ms(m.lat.p(0.99)-p.lat.p(0.99)))
	fmt.Printf("| ztunnel CPU per 1,000 req/s (both ztunnels) | %.3f vCPU | — | — |\n", cpu)
	fmt.Printf("| ztunnel RSS at the end (node-a / node-b) | %.1f / %.1f MB | — | — |\n", float64(m.rssA)/1024, float64(m.rssB)/1024)
	fmt.Printf("| node-a ztunnel memory detail | %s | — | — |\n", memDetail(t, za))
	fmt.Printf("| single-stream throughput (%d MiB) | %.0f Mbit/s | %.0f Mbit/s | %.2f× |\n", bulk>>20, m.bulkMbps, p.bulkMbps, m.bulkMbps/p.bulkMbps)
	t.Logf("FIGURE ztunnel-bench: rps=%d p50MeshMs=%.3f p50PlainMs=%.3f p99MeshMs=%.3f p99PlainMs=%.3f addedP99Ms=%.3f cpuPer1k=%.3f rssAMB=%.1f rssBMB=%.1f throughputRatio=%.2f",
		rps, ms(m.lat.p(0.5)), ms(p.lat.p(0.5)), ms(m.lat.p(0.99)), ms(p.lat.p(0.99)), ms(m.lat.p(0.99)-p.lat.p(0.99)),
		cpu, float64(m.rssA)/1024, float64(m.rssB)/1024, m.bulkMbps/p.bulkMbps)
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type latencies []time.Duration

func (l latencies) p(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// httpLoad sends GETs at rps (open loop, keep-alive, up to 64 in flight)
// from inside pod from, and returns every request's latency.
func httpLoad(from *meshPod, to netip.AddrPort, rps int, d time.Duration) (latencies, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return from.Dial(ctx, to, netnsNoMark)
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		mu    sync.Mutex
		lat   latencies
		first error
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, 64)
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	end := time.Now().Add(d)
	url := "http://" + to.String() + "/"
	for time.Now().Before(end) {
		<-tick.C
		select {
		case slots <- struct{}{}:
		default:
			continue // all busy: counted as not sent (open loop)
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			start := time.Now()
			resp, err := client.Get(url)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			lat = append(lat, time.Since(start))
		}()
	}
	wg.Wait()
	return lat, first
}

func bulkMbps(t *testing.T, from *meshPod, to netip.AddrPort, n int64) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := from.Dial(ctx, to, netnsNoMark)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "GET /bytes?n=%d HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n", n)
	got, err := io.Copy(io.Discard, c)
	if err != nil || got < n {
		t.Fatalf("bulk: %d of %d bytes: %v", got, n, err)
	}
	return float64(n) * 8 / time.Since(start).Seconds() / 1e6
}

// cpuSeconds is a ztunnel process's user+system CPU time so far.
func cpuSeconds(t *testing.T, z *ztunnelProc) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(z.cmd.Process.Pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func rssKB(t *testing.T, z *ztunnelProc) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(z.cmd.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// fetch saves a URL's body to a file (profiles).
func fetch(t *testing.T, url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("fetch %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Logf("fetch: %v", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// memDetail splits a process's resident memory (anonymous: heap, stacks;
// file: the binary's pages) as /proc/<pid>/status does.
func memDetail(t *testing.T, z *ztunnelProc) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(z.cmd.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmHWM:", "RssAnon:", "RssFile:"} {
			if rest, ok := strings.CutPrefix(l, k); ok {
				parts = append(parts, strings.TrimSuffix(k, ":")+" "+strings.Join(strings.Fields(rest), " "))
			}
		}
	}
	return strings.Join(parts, ", ")
}
