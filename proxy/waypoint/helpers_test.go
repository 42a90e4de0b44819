package waypoint

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// echo is what test backends answer: who served and what they saw.
type echo struct {
	Backend string            `json:"backend"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Host    string            `json:"host"`
	Proto   string            `json:"proto"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// backend is a real HTTP server on loopback. Query "fail=N" answers 503 to
// the first N requests carrying that query; "sleep=D" delays the answer.
type backend struct {
	name     string
	addr     netip.AddrPort
	srv      *http.Server
	requests atomic.Int64
	fails    atomic.Int64
	inflight atomic.Int64
	maxSeen  atomic.Int64
	delay    atomic.Int64 // ns added to every answer
}

func startBackend(t testing.TB, name string, h2c bool) *backend {
	t.Helper()
	b := &backend{name: name}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		n := b.inflight.Add(1)
		defer b.inflight.Add(-1)
		for {
			m := b.maxSeen.Load()
			if n <= m || b.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		if d := time.Duration(b.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		q := r.URL.Query()
		if d, err := time.ParseDuration(q.Get("sleep")); err == nil {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if n, _ := strconv.Atoi(q.Get("fail")); n > 0 && b.fails.Add(1) <= int64(n) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		e := echo{Backend: name, Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Proto: r.Proto, Headers: map[string]string{}, Body: string(body)}
		for k := range r.Header {
			e.Headers[k] = strings.Join(r.Header.Values(k), ",")
		}
		w.Header().Set("X-Backend", name)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	})
	l := loopback.Listen(t)
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	if h2c {
		protos.SetUnencryptedHTTP2(true)
	}
	b.srv = &http.Server{Handler: mux, Protocols: protos}
	b.addr = netip.MustParseAddrPort(l.Addr().String())
	go func() { _ = b.srv.Serve(l) }()
	t.Cleanup(func() { _ = b.srv.Close() })
	return b
}

// world builds routing inputs: Services in namespace "app" (which uses
// waypoint app/wp and is in the mesh) and "ext" (not in the mesh).
type world struct {
	in   routing.Input
	next int
}

func newWorld() *world {
	return &world{in: routing.Input{
		Waypoint: routing.Waypoint{Namespace: "app", Name: "wp"},
		Namespaces: []*corev1.Namespace{
			{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{mesh.LabelUseWaypoint: "wp", mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "ext"}},
		},
	}}
}

// service adds a Service with port 80 and the given endpoints, returning its VIP:80.
func (w *world) service(ns, name, portName string, eps ...netip.AddrPort) netip.AddrPort {
	w.next++
	vip := netip.AddrFrom4([4]byte{10, 96, 0, byte(w.next)})
	w.in.Services = append(w.in.Services, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: vip.String(), ClusterIPs: []string{vip.String()},
			Ports: []corev1.ServicePort{{Name: portName, Port: 80, Protocol: corev1.ProtocolTCP}}},
	})
	for i, ep := range eps {
		w.in.EndpointSlices = append(w.in.EndpointSlices, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, i), Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(int32(ep.Port()))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ep.Addr().String()}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: fmt.Sprintf("%s-pod-%d", name, i)}}},
		})
	}
	return netip.AddrPortFrom(vip, 80)
}

func (w *world) route(name string, rules ...gwv1.HTTPRouteRule) {
	w.in.HTTPRoutes = append(w.in.HTTPRoutes, &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
			Rules:           rules,
		},
	})
}

func backendRef(ns, name string, weight int32) gwv1.HTTPBackendRef {
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Namespace: ptr.To(gwv1.Namespace(ns)), Port: ptr.To[int32](80)},
		Weight:                 ptr.To(weight),
	}}
}

func prefixMatch(p string) []gwv1.HTTPRouteMatch {
	return []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To(p)}}}
}

// listenProxy serves dst through p on a fresh loopback listener.
func listenProxy(t testing.TB, p *Proxy, dst netip.AddrPort) (string, net.Listener) {
	t.Helper()
	l := loopback.Listen(t)
	go func() { _ = p.ServeTCP(l, dst) }()
	return l.Addr().String(), l
}

func newProxy(t testing.TB, w *world, cfg Config) *Proxy {
	t.Helper()
	p := New(cfg)
	tab := routing.Compile(w.in)
	if len(tab.Skipped) > 0 {
		t.Fatalf("routes skipped: %+v", tab.Skipped)
	}
	p.SetTable(tab)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p
}

// clients for both inner protocols, dialling addr whatever the URL says.
func h1Client(addr string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		MaxIdleConnsPerHost: 16,
	}}
}

func h2Client(addr string) *http.Client {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		Protocols: protos,
	}}
}

type response struct {
	status int
	header http.Header
	echo   echo
	body   string
}

func do(t testing.TB, c *http.Client, method, url string, hdr map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &r.echo)
	return r
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func drainBody(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}
