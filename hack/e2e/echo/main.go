// Command echo is the end-to-end suites' test application.
//
//	echo serve [-addr :8080]
//	echo cert -ca-url https://10.248.0.20:15012 -ca-server-name wayfabric-ca.wayfabric-system.svc
//	echo get -url http://echo.demo.svc:8080/ [-retry 30s]
//
// serve answers every request with a small JSON document naming the pod
// that served it (POD_NAME), the method, path, the Forwarded header and the
// client address it sees, /healthz with 200, and /bytes?n=N with N bytes
// (for throughput). get sends one request as an ordinary HTTP client and
// prints "ANSWER <status> <body>", or for /bytes "BYTES n=.. seconds=..".
//
//	echo load -url http://10.247.0.5:8080/ [-rps 200] [-duration 30s] [-concurrency 32]
//	echo load -url http://10.248.0.10:8080/ -hbone-proxy 10.247.0.7:15008 \
//	     -peer-identity spiffe://cluster.local/ns/demo/sa/waypoint \
//	     -ca-url https://10.248.0.20:15012 -ca-server-name wayfabric-ca.wayfabric-system.svc \
//	     -root-cert /var/run/secrets/wayfabric/root-cert.pem -token-file /var/run/secrets/tokens/token
//
// sends requests at a fixed rate (open loop: a slow server does not slow the
// sender down) for a duration, over plain HTTP or, with -hbone-proxy, through
// HBONE tunnels (proxy/hbone, certificate from the mesh CA) to a waypoint or
// ztunnel, and prints one JSON summary line prefixed with "SUMMARY ":
// requests sent, failed, error samples, latency p50/p99/max and the answers
// per backend pod. Its exit status is 0 even when requests fail: the summary
// is the result.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: echo serve|load [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "load":
		err = load(ctx, os.Args[2:])
	case "cert":
		err = cert(ctx, os.Args[2:])
	case "get":
		err = get(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// cert obtains this pod's SPIFFE certificate from the mesh CA once and
// prints "CERT <spiffe id> <not after>": the CA works for workloads.
func cert(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	ca := caFlagsOn(fs, "mesh CA URL (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	certs, self, bundle, err := ca.certCache(ctx)
	if err != nil {
		return err
	}
	defer certs.Close()
	c, err := certs.GetCertificate(ctx, self)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return err
	}
	got, err := identity.FromCertificate(leaf)
	if err != nil {
		return err
	}
	fmt.Printf("CERT %s %s roots=%d\n", got, leaf.NotAfter.UTC().Format(time.RFC3339), len(bundle.Roots()))
	return nil
}

// caFlags are the flags of the commands that get a certificate from the mesh
// CA: this pod's trust domain, the CA and the files a pod is given for it.
type caFlags struct {
	trustDomain, caURL, caServerName, rootCert, tokenFile *string
}

// caFlagsOn defines the CA flags on fs; caURLUsage says when -ca-url is needed.
func caFlagsOn(fs *flag.FlagSet, caURLUsage string) caFlags {
	return caFlags{
		trustDomain:  fs.String("trust-domain", "cluster.local", "SPIFFE trust domain of this pod"),
		caURL:        fs.String("ca-url", "", caURLUsage),
		caServerName: fs.String("ca-server-name", "", "name to verify in the CA's certificate when -ca-url is an IP address"),
		rootCert:     fs.String("root-cert", "/var/run/secrets/wayfabric/root-cert.pem", "mesh trust bundle (PEM)"),
		tokenFile:    fs.String("token-file", "/var/run/secrets/tokens/token", "projected service-account token (audience wayfabric)"),
	}
}

// certCache is this pod's identity (POD_NAMESPACE, SERVICE_ACCOUNT) with a
// certificate cache backed by the mesh CA; the first certificate is fetched
// before it returns, so an unreachable CA is reported at once.
func (f caFlags) certCache(ctx context.Context) (*identity.CertCache, identity.ID, *identity.Bundle, error) {
	var zero identity.ID
	if *f.caURL == "" {
		return nil, zero, nil, fmt.Errorf("-ca-url is required")
	}
	ns, sa := os.Getenv("POD_NAMESPACE"), os.Getenv("SERVICE_ACCOUNT")
	if ns == "" || sa == "" {
		return nil, zero, nil, fmt.Errorf("POD_NAMESPACE and SERVICE_ACCOUNT must be set (downward API)")
	}
	self, err := identity.New(*f.trustDomain, ns, sa)
	if err != nil {
		return nil, zero, nil, err
	}
	pem, err := os.ReadFile(*f.rootCert)
	if err != nil {
		return nil, zero, nil, fmt.Errorf("root certificate: %w", err)
	}
	roots, err := identity.ParseCertificatesPEM(pem)
	if err != nil {
		return nil, zero, nil, fmt.Errorf("root certificate: %w", err)
	}
	bundle := identity.NewBundle(roots...)
	issuer := &identity.CAClient{URL: *f.caURL, ServerName: *f.caServerName, Token: identity.TokenFile(*f.tokenFile), Bundle: bundle}
	certs := identity.NewCertCache(ctx, issuer, bundle, identity.CacheOptions{})
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := certs.GetCertificate(cctx, self); err != nil {
		certs.Close()
		return nil, zero, nil, fmt.Errorf("certificate for %s from %s: %w", self, *f.caURL, err)
	}
	return certs, self, bundle, nil
}

// Answer is what serve returns for every request.
type Answer struct {
	Pod       string `json:"pod"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Host      string `json:"host"`
	Forwarded string `json:"forwarded,omitempty"`
	Remote    string `json:"remote"`
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod, _ = os.Hostname()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/bytes", serveBytes)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Pod", pod)
		_ = json.NewEncoder(w).Encode(Answer{Pod: pod, Method: r.Method, Path: r.URL.Path, Host: r.Host,
			Forwarded: r.Header.Get("Forwarded"), Remote: r.RemoteAddr})
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "echo serving on %s as %s\n", ln.Addr(), pod)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// shares lists the answers per pod with their share, sorted by pod name:
// "{echo-a-7d9f-x2k4q:199(80%) echo-b-5c6b-q8z7w:51(20%)}". It shows a
// weighted split at a glance.
func shares(by map[string]int) string {
	total := 0
	pods := make([]string, 0, len(by))
	for p, n := range by {
		pods = append(pods, p)
		total += n
	}
	slices.Sort(pods)
	parts := make([]string, 0, len(pods))
	for _, p := range pods {
		parts = append(parts, fmt.Sprintf("%s:%d(%.0f%%)", p, by[p], 100*float64(by[p])/float64(total)))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Summary is the result of a load run (printed as "SUMMARY <json>").
type Summary struct {
	Mode        string         `json:"mode"`
	Start       time.Time      `json:"start"`
	URL         string         `json:"url"`
	RPS         int            `json:"rps"`
	DurationS   float64        `json:"durationSeconds"`
	Sent        int            `json:"sent"`
	Failed      int            `json:"failed"`
	Dropped     int            `json:"dropped"` // not sent: every worker busy (the target is too slow)
	P50Ms       float64        `json:"p50Ms"`
	P99Ms       float64        `json:"p99Ms"`
	MaxMs       float64        `json:"maxMs"`
	ByPod       map[string]int `json:"byPod"`
	ErrorSample []string       `json:"errorSample,omitempty"`
}

func load(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	target := fs.String("url", "", "URL to request (required); with -hbone-proxy its host (a name is resolved through DNS, as an application would) is the tunnel's target")
	rps := fs.Int("rps", 100, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	concurrency := fs.Int("concurrency", 64, "maximum requests in flight")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout")
	warmup := fs.Duration("warmup", 0, "first retry one request until it succeeds, for at most this long, and count nothing before (0: start at once)")
	progress := fs.Duration("progress", 0, "also log a PROGRESS line this often (0: only the SUMMARY at the end); "+
		"latencies are then kept per interval only, so the SUMMARY's percentiles cover the time since the last PROGRESS line")
	proxy := fs.String("hbone-proxy", "", "HBONE endpoint host:port (waypoint or ztunnel); empty sends plain HTTP")
	newConn := fs.Bool("new-conn", false, "open a new connection for every request (connection churn) instead of keeping them alive")
	peer := fs.String("peer-identity", "", "SPIFFE identity the HBONE endpoint must prove")
	ca := caFlagsOn(fs, "mesh CA URL (with -hbone-proxy)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" || *rps <= 0 || *concurrency <= 0 {
		return fmt.Errorf("-url, a positive -rps and -concurrency are required")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *concurrency, MaxConnsPerHost: *concurrency, IdleConnTimeout: 30 * time.Second,
		DisableKeepAlives: *newConn}
	mode := "http"
	if *proxy != "" {
		mode = "hbone"
		dial, closeFn, err := hboneDialer(ctx, *proxy, *peer, ca)
		if err != nil {
			return err
		}
		defer closeFn()
		tr.DialContext = dial
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	defer tr.CloseIdleConnections()

	var (
		mu      sync.Mutex
		lat     []time.Duration
		byPod   = map[string]int{}
		lastErr string             // the latest failure, shown on the next PROGRESS line
		lastBy  = map[string]int{} // answers per pod since the last PROGRESS line
		errs    []string
		sent    int
		failed  int
		dropped int
	)
	record := func(d time.Duration, pod string, err error) {
		mu.Lock()
		defer mu.Unlock()
		lat = append(lat, d)
		if err != nil {
			failed++
			lastErr = err.Error()
			if len(errs) < 10 {
				errs = append(errs, err.Error())
			}
			return
		}
		byPod[pod]++
		lastBy[pod]++
	}
	one := func() {
		start := time.Now()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, *target, nil)
		if err != nil {
			record(0, "", err)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			record(time.Since(start), "", err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			record(time.Since(start), "", fmt.Errorf("status %d", resp.StatusCode))
			return
		}
		record(time.Since(start), resp.Header.Get("X-Echo-Pod"), nil)
	}

	if *warmup > 0 {
		took, err := warmUp(ctx, client, *target, *warmup)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		fmt.Printf("READY first request succeeded after %s\n", took.Round(time.Millisecond))
	}

	slots := make(chan struct{}, *concurrency)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(*rps)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	begin := time.Now()
	end := begin.Add(*duration)
	lastProgress := begin
loop:
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		if *progress > 0 && time.Since(lastProgress) >= *progress {
			mu.Lock()
			window, by := lat, lastBy
			lat, lastBy = nil, map[string]int{} // a long-running client keeps one interval, not its whole history
			f, d, e := failed, dropped, lastErr
			lastErr = ""
			mu.Unlock()
			slices.Sort(window)
			fmt.Printf("PROGRESS sent=%d failed=%d dropped=%d lastInterval={done:%d p99ms:%.1f byPod:%s}", sent, f, d, len(window), percentileMs(window, 0.99), shares(by))
			if e != "" {
				fmt.Printf(" lastError=%q", e)
			}
			fmt.Println()
			lastProgress = time.Now()
		}
		select {
		case slots <- struct{}{}:
			sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				one()
			}()
		default:
			mu.Lock()
			dropped++
			mu.Unlock()
		}
	}
	wg.Wait()
	elapsed := time.Since(begin)

	slices.Sort(lat)
	pct := func(p float64) float64 { return percentileMs(lat, p) }
	s := Summary{Mode: mode, Start: begin, URL: *target, RPS: *rps, DurationS: elapsed.Seconds(), Sent: sent, Failed: failed,
		Dropped: dropped, P50Ms: pct(0.50), P99Ms: pct(0.99), ByPod: byPod, ErrorSample: errs}
	if len(lat) > 0 {
		s.MaxMs = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	b, _ := json.Marshal(s)
	fmt.Println("SUMMARY " + string(b))
	return nil
}

// hboneDialer returns a DialContext that opens an HBONE tunnel through proxy
// to the dialled address, with a certificate for this pod's service account
// from the mesh CA.
func hboneDialer(ctx context.Context, proxy, peer string, ca caFlags) (
	func(ctx context.Context, network, addr string) (net.Conn, error), func(), error) {
	if _, _, err := net.SplitHostPort(proxy); err != nil {
		return nil, nil, fmt.Errorf("-hbone-proxy: %w", err)
	}
	peerID, err := identity.Parse(peer)
	if err != nil {
		return nil, nil, fmt.Errorf("-peer-identity: %w", err)
	}
	certs, self, bundle, err := ca.certCache(ctx)
	if err != nil {
		return nil, nil, err
	}
	cli, err := hbone.NewClient(hbone.ClientConfig{Certs: certs, Bundle: bundle})
	if err != nil {
		certs.Close()
		return nil, nil, err
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		t, err := resolveAddrPort(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("HBONE target: %w", err)
		}
		// Resolved per connection: the proxy's Service may appear after
		// this client starts (config/demo applies both at once).
		proxyAddr, err := resolveAddrPort(ctx, proxy)
		if err != nil {
			return nil, fmt.Errorf("-hbone-proxy: %w", err)
		}
		return cli.Dial(ctx, hbone.DialRequest{Target: t, Proxy: proxyAddr, SourceIdentity: self, PeerIdentity: peerID})
	}
	return dial, func() { cli.Close(); certs.Close() }, nil
}

// resolveAddrPort turns host:port into ip:port, looking a name up the way an
// application would before connecting (a ztunnel sees only the address).
func resolveAddrPort(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap, nil
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: %w", hostport, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: bad port: %w", hostport, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolving %q: %w", host, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(port)), nil
}

// percentileMs is the p-quantile of sorted latencies, in milliseconds.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := max(0, min(int(float64(len(sorted))*p+0.5)-1, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// warmUp retries one GET until it answers 200, so a client started together
// with its mesh (config/demo) does not count the seconds before the
// waypoint is ready as failures.
func warmUp(ctx context.Context, client *http.Client, url string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Since(start) > limit {
			return 0, fmt.Errorf("no successful request in %s, last error: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// serveBytes streams ?n= zero bytes (default 1 MiB) in 64 KiB writes.
func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 {
		n = 1 << 20
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		n -= k
	}
}

// get sends one GET as an unmodified application would (plain HTTP: in an
// enrolled pod the ztunnel captures it) and prints what came back.
func get(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	target := fs.String("url", "", "URL to request (required)")
	retry := fs.Duration("retry", 0, "retry failures for this long (0: once)")
	timeout := fs.Duration("timeout", 5*time.Minute, "request timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return fmt.Errorf("-url is required")
	}
	client := &http.Client{Timeout: *timeout}
	deadline := time.Now().Add(*retry)
	for {
		start := time.Now()
		err := getOnce(ctx, client, *target, start)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "echo get: retrying:", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func getOnce(ctx context.Context, client *http.Client, target string, start time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if req.URL.Path == "/bytes" {
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		fmt.Printf("BYTES n=%d seconds=%.3f mbps=%.1f\n", n, secs, float64(n)*8/secs/1e6)
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Printf("ANSWER %d %s", resp.StatusCode, body)
	return nil
}
