//go:build linux

package ztunnel_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// TestMeshOnNetworkNamespaces: two ztunnel processes ("node-a", "node-b"),
// four pods. client-0 (node-a) and server-1 (node-b) are enrolled (their
// namespace is ambient); plain-2 (node-a) and outside-3 (node-b) are not.
func TestMeshOnNetworkNamespaces(t *testing.T) {
	e := newMeshEnv(t)
	client0, server1, plain2, outside3 := e.pods["client-0"], e.pods["server-1"], e.pods["plain-2"], e.pods["outside-3"]
	za := e.startZtunnel("node-a", "a")
	zb := e.startZtunnel("node-b", "b")

	t.Run("the CNI plugin captures enrolled pods at creation and passes the others", func(t *testing.T) {
		for _, c := range []struct {
			p        *meshPod
			z        *ztunnelProc
			captured bool
		}{{client0, za, true}, {server1, zb, true}, {plain2, za, false}, {outside3, zb, false}} {
			out, err := e.cniAdd(c.p, c.z)
			if err != nil {
				t.Fatalf("CNI ADD %s: %v\n%s", c.p.name, err, out)
			}
			if !strings.Contains(out, c.p.Addr.String()) {
				t.Errorf("CNI ADD %s must return the previous result unchanged, got %s", c.p.name, out)
			}
		}
		if got := status(t, za).CapturedPods; got != 1 {
			t.Errorf("node-a captures %d pods, want 1 (client-0)", got)
		}
		if got := status(t, zb).CapturedPods; got != 1 {
			t.Errorf("node-b captures %d pods, want 1 (server-1)", got)
		}
	})
	e.startEcho(server1)
	e.startEcho(plain2)

	t.Run("enrolled client reaches an enrolled server by Service address and by pod address, over HBONE, and the server sees the client's address", func(t *testing.T) {
		for _, dst := range []netip.AddrPort{netip.AddrPortFrom(e.svcIP, 80), server1.AddrPort(echoPort)} {
			got, err := exchange(client0, dst, "hello")
			if err != nil {
				t.Fatalf("to %v: %v", dst, err)
			}
			if want := "pod=server-1 from=" + client0.Addr.String() + ":"; !strings.HasPrefix(got, want) {
				t.Errorf("to %v: answer %q, want prefix %q", dst, got, want)
			}
		}
		eventually(t, 20*time.Second, "server-side ztunnel logs the client identity", func() error {
			if !strings.Contains(zb.log.String(), "spiffe://cluster.local/ns/mesh/sa/client") {
				return fmt.Errorf("not in node-b's log")
			}
			return nil
		})
	})

	t.Run("between the two pods only TLS to port 15008 crosses the network, never the payload", func(t *testing.T) {
		sn := netnstest.Sniff(t, e.topo.Fabric, server1.Veth)
		const secret = "the-payload-must-never-be-seen-in-clear"
		for range 3 {
			if _, err := exchange(client0, netip.AddrPortFrom(e.svcIP, 80), secret); err != nil {
				t.Fatal(err)
			}
		}
		frames := sn.Stop()
		var between, to15008 int
		for _, f := range frames {
			if strings.Contains(string(f.Raw), secret) {
				t.Fatalf("payload seen in clear on the wire: %v -> %v", f.Src, f.Dst)
			}
			pair := (f.Src.Addr() == client0.Addr && f.Dst.Addr() == server1.Addr) || (f.Src.Addr() == server1.Addr && f.Dst.Addr() == client0.Addr)
			if !pair {
				continue
			}
			between++
			if f.Src.Port() == 15008 || f.Dst.Port() == 15008 {
				to15008++
			} else {
				t.Errorf("non-HBONE segment between the pods: %v -> %v", f.Src, f.Dst)
			}
		}
		if between == 0 {
			t.Fatal("saw no segment between the pods: the sniffer is blind, the check proves nothing")
		}
		t.Logf("%d segments between the pods, all on port 15008", to15008)
	})

	t.Run("enrolled client reaches an unenrolled server in plaintext", func(t *testing.T) {
		got, err := exchange(client0, plain2.AddrPort(echoPort), "plain")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, "pod=plain-2 from="+client0.Addr.String()) {
			t.Errorf("answer %q", got)
		}
	})

	t.Run("an unenrolled client reaches an enrolled server in plaintext, seen with its own address", func(t *testing.T) {
		got, err := exchange(outside3, server1.AddrPort(echoPort), "from outside")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, "pod=server-1 from="+outside3.Addr.String()+":") {
			t.Errorf("answer %q", got)
		}
	})

	t.Run("kubelet probes (from the node's address) reach an enrolled pod uncaptured", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := e.topo.Fabric.DialTCP(ctx, server1.AddrPort(echoPort), netns.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintln(c, "probe")
		buf := make([]byte, 256)
		n, err := c.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "pod=server-1 from="+e.topo.Gateway.String()) {
			t.Errorf("probe answer %q, %v", buf[:n], err)
		}
	})

	t.Run("metrics count the connections by direction and route", func(t *testing.T) {
		m := metrics(t, za)
		for _, want := range []string{`wayfabric_ztunnel_connections_opened_total{direction="outbound",namespace="mesh",route="direct",workload="client-0"}`,
			`wayfabric_ztunnel_captured_pods 1`} {
			if !strings.Contains(m, want) {
				t.Errorf("node-a metrics lack %s", want)
			}
		}
		if !strings.Contains(metrics(t, zb), `wayfabric_ztunnel_connections_opened_total{direction="inbound",namespace="mesh",route="hbone",workload="server-1"}`) {
			t.Error("node-b metrics lack inbound hbone connections")
		}
	})

	t.Run("L4 authorization: the destination ztunnel allows and denies by identity, refusing at CONNECT; updates close only what they deny", func(t *testing.T) {
		ctx := context.Background()
		allow := policyObject(meshNS, "server-clients", `{selector: {matchLabels: {app: server-1}}, action: ALLOW, rules: [
			{from: [{source: {principals: [cluster.local/ns/mesh/sa/client]}}], to: [{operation: {ports: ["8080"]}}]}]}`)
		if err := e.k8s.Create(ctx, allow); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.k8s.Delete(ctx, allow) }()
		// The allowed identity over HBONE; plaintext from outside the mesh
		// has no identity, so the ALLOW policy makes it default-deny.
		eventually(t, 20*time.Second, "plaintext without identity denied", func() error {
			if got, err := exchange(outside3, server1.AddrPort(echoPort), "no identity"); err == nil {
				return fmt.Errorf("allowed: %q", got)
			}
			return nil
		})
		if got, err := exchange(client0, server1.AddrPort(echoPort), "allowed"); err != nil {
			t.Fatalf("allowed identity refused: %v", err)
		} else if !strings.HasPrefix(got, "pod=server-1") {
			t.Fatalf("answer %q", got)
		}
		// An open allowed connection survives an update that still allows it.
		long, err := client0.Dial(ctx, server1.AddrPort(echoPort), netnsNoMark)
		if err != nil {
			t.Fatal(err)
		}
		defer long.Close()
		lr := bufio.NewReader(long)
		ping := func() error {
			_ = long.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := fmt.Fprintln(long, "ping"); err != nil {
				return err
			}
			_, err := lr.ReadString('\n')
			return err
		}
		if err := ping(); err != nil {
			t.Fatal(err)
		}
		unrelated := policyObject(meshNS, "unrelated", `{selector: {matchLabels: {app: nobody}}, action: DENY, rules: [{}]}`)
		if err := e.k8s.Create(ctx, unrelated); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.k8s.Delete(ctx, unrelated) }()
		time.Sleep(time.Second)
		if err := ping(); err != nil {
			t.Fatalf("an allowed open connection broke on a policy update: %v", err)
		}
		// A DENY for the client's namespace: new connections refused at
		// CONNECT, the open one closed within a second.
		deny := policyObject(meshNS, "deny-mesh", `{selector: {matchLabels: {app: server-1}}, action: DENY, rules: [
			{from: [{source: {namespaces: [mesh]}}]}]}`)
		start := time.Now()
		if err := e.k8s.Create(ctx, deny); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.k8s.Delete(ctx, deny) }()
		eventually(t, 10*time.Second, "denied connection closed", func() error {
			if err := ping(); err == nil {
				return fmt.Errorf("still open")
			}
			return nil
		})
		applied := time.Since(start)
		if _, err := exchange(client0, server1.AddrPort(echoPort), "denied"); err == nil {
			t.Fatal("a denied identity got through")
		}
		if m := metrics(t, zb); !strings.Contains(m, `wayfabric_ztunnel_authz_decisions_total{decision="denied",policy="mesh/deny-mesh",reason="deny_rule"}`) {
			t.Error("no denial counted for mesh/deny-mesh")
		}
		eventually(t, 20*time.Second, "denial logged with the rule", func() error {
			if !strings.Contains(zb.log.String(), `"policy":"mesh/deny-mesh"`) {
				return fmt.Errorf("no log line")
			}
			return nil
		})
		t.Logf("policy update applied (open connection closed) after %v", applied.Round(time.Millisecond))
	})

	t.Run("a pod behind a waypoint refuses direct HBONE from other identities, and its clients are sent to the waypoint", func(t *testing.T) {
		ctx := context.Background()
		if err := e.k8s.Create(ctx, waypointObject(meshNS, "wp", "service")); err != nil {
			t.Fatal(err)
		}
		var ns corev1.Namespace
		if err := e.k8s.Get(ctx, types.NamespacedName{Name: meshNS}, &ns); err != nil {
			t.Fatal(err)
		}
		ns.Labels[mesh.LabelUseWaypoint] = "wp"
		if err := e.k8s.Update(ctx, &ns); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = e.k8s.Get(ctx, types.NamespacedName{Name: meshNS}, &ns)
			delete(ns.Labels, mesh.LabelUseWaypoint)
			_ = e.k8s.Update(ctx, &ns)
			_ = e.k8s.Delete(ctx, waypointObject(meshNS, "wp", "service"))
		}()
		// The waypoint has no ready replica: the client's ztunnel refuses
		// rather than skip the waypoint's policy.
		eventually(t, 20*time.Second, "service traffic refused while its waypoint has no replica", func() error {
			if _, err := exchange(client0, netip.AddrPortFrom(e.svcIP, 80), "x"); err == nil {
				return fmt.Errorf("connection succeeded around the waypoint")
			}
			return nil
		})
		// A mesh identity other than the waypoint's tunnelling straight to
		// the pod is refused at the TLS handshake.
		certs := e.workloadCerts(t, meshNS, "client", "client-0")
		// A new client per attempt: each one does its own TLS handshake (a
		// pooled connection made before the ztunnel saw the waypoint label
		// would skip it).
		newClient := func() *hbone.Client {
			hc, err := hbone.NewClient(hbone.ClientConfig{Certs: certs, Bundle: identity.NewBundle(mustRoots(t, e.bundlePEM)...),
				DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
					return outside3.Dial(ctx, netip.MustParseAddrPort(addr), netns.DialOptions{})
				}})
			if err != nil {
				t.Fatal(err)
			}
			return hc
		}
		eventually(t, 20*time.Second, "direct HBONE refused at the handshake", func() error {
			hc := newClient()
			defer hc.Close()
			s, err := hc.Dial(ctx, hbone.DialRequest{Target: server1.AddrPort(echoPort), SourceIdentity: identity.MustParse("spiffe://cluster.local/ns/mesh/sa/client"),
				PeerIdentity: identity.MustParse("spiffe://cluster.local/ns/mesh/sa/server")})
			if err == nil {
				s.Close()
				return fmt.Errorf("direct HBONE to a pod behind a waypoint was accepted")
			}
			var ce *hbone.ConnectError
			if errors.As(err, &ce) {
				return fmt.Errorf("refused only at CONNECT (%v): the TLS handshake must refuse the identity", err)
			}
			t.Logf("refused as expected: %v", err)
			return nil
		})
	})

	t.Run("ztunnel killed: enrolled traffic fails closed; after the restart every pod is adopted and traffic flows", func(t *testing.T) {
		if err := zb.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-zb.waited
		start := time.Now()
		if got, err := exchange(client0, server1.AddrPort(echoPort), "while down"); err == nil {
			t.Fatalf("mesh traffic flowed with no ztunnel on the server's node: %q", got)
		}
		if got, err := exchange(outside3, server1.AddrPort(echoPort), "plaintext while down"); err == nil {
			t.Fatalf("plaintext reached an enrolled pod with no ztunnel: %q", got)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("failing closed took %v: refusals must be immediate, not hangs", d)
		}
		zb2 := e.startZtunnel("node-b", "b2")
		if got := status(t, zb2).CapturedPods; got != 1 {
			t.Fatalf("restarted ztunnel adopted %d pods, want 1", got)
		}
		got, err := exchange(client0, server1.AddrPort(echoPort), "after restart")
		if err != nil || !strings.HasPrefix(got, "pod=server-1 from="+client0.Addr.String()) {
			t.Fatalf("after restart: %q, %v", got, err)
		}
		zb = zb2
	})

	t.Run("a new ztunnel takes the node over without refusing a connection; the old one drains and closes cleanly", func(t *testing.T) {
		// A long-lived connection through the old process.
		ctx := context.Background()
		long, err := client0.Dial(ctx, server1.AddrPort(echoPort), netnsNoMark)
		if err != nil {
			t.Fatal(err)
		}
		defer long.Close()
		lr := bufio.NewReader(long)
		ping := func(msg string) error {
			_ = long.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := fmt.Fprintln(long, msg); err != nil {
				return err
			}
			_, err := lr.ReadString('\n')
			return err
		}
		if err := ping("before"); err != nil {
			t.Fatal(err)
		}
		// New connections all through the handover.
		stop := make(chan struct{})
		var mu sync.Mutex
		var ok, failed int
		var firstErr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := exchange(client0, server1.AddrPort(echoPort), "churn")
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					ok++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		za2 := e.startZtunnel("node-a", "a2")
		if got := status(t, za2).CapturedPods; got != 1 {
			t.Errorf("new ztunnel holds %d pods after the handover, want 1", got)
		}
		if err := ping("after handover"); err != nil {
			t.Errorf("long-lived connection broke at the handover: %v", err)
		}
		// The old one is told to stop (the kubelet's SIGTERM) and drains.
		_ = za.cmd.Process.Signal(syscall.SIGTERM)
		time.Sleep(500 * time.Millisecond)
		if err := ping("during drain"); err != nil {
			t.Errorf("long-lived connection broke during the drain: %v", err)
		}
		select {
		case <-za.waited:
		case <-time.After(15 * time.Second):
			t.Fatal("old ztunnel did not exit after its drain")
		}
		// At the end of the drain the old process closed it cleanly: EOF, no reset.
		_ = long.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := lr.ReadString('\n'); err != io.EOF {
			t.Errorf("long-lived connection at the end of the drain: %v, want a clean EOF", err)
		}
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if failed > 0 || ok == 0 {
			t.Errorf("new connections during the handover: %d ok, %d failed (first: %v)", ok, failed, firstErr)
		}
		t.Logf("handover: %d new connections, %d failed", ok, failed)
		za = za2
	})

	t.Run("a pod whose label opts it out is released and talks plainly again", func(t *testing.T) {
		ctx := context.Background()
		var p corev1.Pod
		if err := e.k8s.Get(ctx, types.NamespacedName{Namespace: meshNS, Name: "server-1"}, &p); err != nil {
			t.Fatal(err)
		}
		p.Labels[mesh.LabelDataplaneMode] = mesh.DataplaneModeNone
		if err := e.k8s.Update(ctx, &p); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "server-1 released", func() error {
			if n := status(t, zb).CapturedPods; n != 0 {
				return fmt.Errorf("%d captured", n)
			}
			return nil
		})
		got, err := exchange(outside3, server1.AddrPort(echoPort), "released")
		if err != nil || !strings.HasPrefix(got, "pod=server-1 from="+outside3.Addr.String()) {
			t.Fatalf("after release: %q, %v", got, err)
		}
		// The client (still enrolled) now reaches it in plain TCP.
		got, err = exchange(client0, server1.AddrPort(echoPort), "plain now")
		if err != nil || !strings.HasPrefix(got, "pod=server-1 from="+client0.Addr.String()) {
			t.Fatalf("client after release: %q, %v", got, err)
		}
	})
}

func status(t *testing.T, z *ztunnelProc) struct{ CapturedPods int } {
	t.Helper()
	var st struct{ CapturedPods int }
	resp, err := http.Get("http://" + z.stats + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func metrics(t *testing.T, z *ztunnelProc) string {
	t.Helper()
	resp, err := http.Get("http://" + z.stats + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// workloadCerts obtains certificates for ns/sa from the CA with a token
// bound to pod, as a workload proxy would.
func (e *meshEnv) workloadCerts(t *testing.T, ns, sa, pod string) identity.CertProvider {
	bundle := identity.NewBundle(mustRoots(t, e.bundlePEM)...)
	tok := e.token(ns, sa, pod)
	issuer := &identity.CAClient{URL: "https://" + e.caAddr, Token: func() (string, error) { return tok, nil }, Bundle: bundle,
		ServerName: "wayfabric-ca." + systemNS + ".svc"}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return identity.NewCertCache(ctx, issuer, bundle, identity.CacheOptions{})
}

func mustRoots(t *testing.T, pem []byte) []*x509.Certificate {
	roots, err := identity.ParseCertificatesPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	return roots
}
