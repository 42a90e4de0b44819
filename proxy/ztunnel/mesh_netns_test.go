//go:build linux

package ztunnel_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/controllers/ca"
	"github.com/wayfabric/wayfabric/internal/testenv"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/nodeconfig"
)

// The mesh test runs the real ztunnel binary as two "nodes" against a real
// kube-apiserver (envtest) and the real mesh CA, with four "pods" as
// network namespaces on a bridge; pods are captured through the real CNI
// plugin binary, as a container runtime would call it.

const (
	systemNS   = "wayfabric-system"
	meshNS     = "mesh"
	plainNS    = "plain"
	trustDom   = "cluster.local"
	echoPort   = 8080
	echoEnv    = "ZTUNNEL_TEST_ECHO"
	httpEnv    = "ZTUNNEL_TEST_HTTP"
	configName = "test"
)

func TestMain(m *testing.M) {
	if os.Getenv(echoEnv) != "" {
		runEcho()
		return
	}
	if os.Getenv(httpEnv) != "" {
		runHTTP()
		return
	}
	os.Exit(m.Run())
}

// runEcho is the "application" in a pod: for each connection it answers
// every line with the client address it sees, the line, and its pod name.
func runEcho() {
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", echoPort))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "pod=%s from=%s got=%s", os.Getenv(echoEnv), c.RemoteAddr(), line)
			}
		}()
	}
}

// runHTTP is the benchmark's application: a small answer on /, and
// /bytes?n=N streams N bytes.
func runHTTP() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		buf := make([]byte, 256<<10)
		for n > 0 {
			k := min(n, int64(len(buf)))
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	srv := &http.Server{Addr: fmt.Sprintf(":%d", echoPort), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}

type meshPod struct {
	*netnstest.Pod
	ns, name, sa, node string
	uid                types.UID
}

type ztunnelProc struct {
	node, dir          string
	cmd                *exec.Cmd
	stats, ready       string
	log                *syncBuffer
	socketDir, cniConf string
	waited             chan struct{}
}

type meshEnv struct {
	t          *testing.T
	k8s        client.Client
	kubeconfig string
	bin        string // built binaries
	topo       *netnstest.Topology
	caAddr     string
	bundlePEM  []byte
	pods       map[string]*meshPod
	svcIP      netip.Addr
	ztunnels   map[string]*ztunnelProc
	// extraArgs are added to every ztunnel's command line.
	extraArgs []string
}

func newMeshEnv(t *testing.T) *meshEnv {
	netnstest.RequireRoot(t)
	assets := testenv.RequireAssets(t)
	e := &meshEnv{t: t, pods: map[string]*meshPod{}, ztunnels: map[string]*ztunnelProc{}}
	root := repoRoot(t)
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true}
	// Generous: CI machines are small and busy.
	env.ControlPlane.GetAPIServer().StartTimeout = 2 * time.Minute
	env.ControlPlane.GetAPIServer().Configure().
		Set("service-account-issuer", "https://kubernetes.default.svc.cluster.local").
		Set("api-audiences", "https://kubernetes.default.svc.cluster.local", identity.TokenAudience)
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	e.k8s, err = client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e.kubeconfig = writeKubeconfig(t, dir, cfg)
	e.bin = buildBinaries(t, root, dir)
	e.topo = netnstest.New(t, netnstest.Options{Pods: 4, NoIPv6: true})
	e.seed()
	e.startCA()
	return e
}

func repoRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func buildBinaries(t *testing.T, root, dir string) string {
	bin := filepath.Join(dir, "bin")
	for _, cmd := range []string{"ztunnel", "wayfabric-cni"} {
		b := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd)
		b.Dir = root
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", cmd, err, out)
		}
	}
	return bin
}

func writeKubeconfig(t *testing.T, dir string, cfg *rest.Config) string {
	kc := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "envtest",
		"clusters": []any{map[string]any{"name": "envtest", "cluster": map[string]any{
			"server": cfg.Host, "certificate-authority-data": cfg.CAData}}},
		"users": []any{map[string]any{"name": "admin", "user": map[string]any{
			"client-certificate-data": cfg.CertData, "client-key-data": cfg.KeyData}}},
		"contexts": []any{map[string]any{"name": "envtest", "context": map[string]any{"cluster": "envtest", "user": "admin"}}},
	}
	raw, err := yaml.Marshal(kc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// seed creates the namespaces, service accounts, pods (with the
// topology's addresses) and services the ztunnels watch.
func (e *meshEnv) seed() {
	t, ctx := e.t, context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for ns, l := range map[string]map[string]string{
		systemNS: nil, meshNS: {mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}, plainNS: nil,
	} {
		must(e.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: l}}))
	}
	for _, sa := range []types.NamespacedName{{Namespace: systemNS, Name: "ztunnel-" + configName},
		{Namespace: meshNS, Name: "client"}, {Namespace: meshNS, Name: "server"}, {Namespace: plainNS, Name: "other"}} {
		must(e.k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: sa.Name}}))
	}
	// The ztunnels' own pods exist so their tokens can be bound to them
	// (the CA checks the node of the pod a node proxy's token is bound to).
	for _, node := range []string{"node-a", "node-b"} {
		e.createPod(systemNS, "ztunnel-"+node, "ztunnel-"+configName, node, netip.Addr{})
	}
	for i, p := range []struct{ ns, name, sa, node string }{
		{meshNS, "client-0", "client", "node-a"},
		{meshNS, "server-1", "server", "node-b"},
		{plainNS, "plain-2", "other", "node-a"},
		{plainNS, "outside-3", "other", "node-b"},
	} {
		tp := e.topo.Pods[i]
		uid := e.createPod(p.ns, p.name, p.sa, p.node, tp.Addr)
		e.pods[p.name] = &meshPod{Pod: tp, ns: p.ns, name: p.name, sa: p.sa, node: p.node, uid: uid}
	}
	e.svcIP = e.createService(meshNS, "server", "server-1")
	e.createService(plainNS, "plain", "plain-2")
}

func (e *meshEnv) createPod(ns, name, sa, node string, ip netip.Addr) types.UID {
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: sa, AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}}}
	if err := e.k8s.Create(ctx, p); err != nil {
		e.t.Fatal(err)
	}
	if ip.IsValid() {
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip.String(), PodIPs: []corev1.PodIP{{IP: ip.String()}}}
		if err := e.k8s.Status().Update(ctx, p); err != nil {
			e.t.Fatal(err)
		}
	}
	return p.UID
}

// createService makes a ClusterIP Service on port 80 and, as no
// EndpointSlice controller runs on envtest, its slice.
func (e *meshEnv) createService(ns, name, pod string) netip.Addr {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "tcp-echo", Port: 80, TargetPort: intstr.FromInt32(echoPort)}}}}
	if err := e.k8s.Create(ctx, svc); err != nil {
		e.t.Fatal(err)
	}
	mp := e.pods[pod]
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("tcp-echo"), Port: new(int32(echoPort))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{mp.Addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod}}},
	}
	if err := e.k8s.Create(ctx, es); err != nil {
		e.t.Fatal(err)
	}
	return netip.MustParseAddr(svc.Spec.ClusterIP)
}

func (e *meshEnv) startCA() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := ca.New(ca.Options{Client: e.k8s, Namespace: systemNS, TrustDomain: trustDom, Listener: ln, BundleConfigMap: "-",
		NodeProxies: []types.NamespacedName{{Namespace: systemNS, Name: "ztunnel-" + configName}}})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Start(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	select {
	case <-c.Ready():
	case <-time.After(30 * time.Second):
		e.t.Fatal("CA not ready")
	}
	e.caAddr = ln.Addr().String()
	e.bundlePEM = identity.NewBundle(c.TrustBundle()...).PEM()
}

func (e *meshEnv) token(ns, sa, pod string) string {
	ctx := context.Background()
	var p corev1.Pod
	if err := e.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: pod}, &p); err != nil {
		e.t.Fatal(err)
	}
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{Audiences: []string{identity.TokenAudience},
		ExpirationSeconds: new(int64(3600)),
		BoundObjectRef:    &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}}}
	if err := e.k8s.SubResource("token").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}, tr); err != nil {
		e.t.Fatal(err)
	}
	return tr.Status.Token
}

// startZtunnel runs the ztunnel binary for node, as the DaemonSet would.
func (e *meshEnv) startZtunnel(node, instance string) *ztunnelProc {
	t := e.t
	dir := filepath.Join(t.TempDir(), instance)
	z := &ztunnelProc{node: node, dir: dir, log: &syncBuffer{}, waited: make(chan struct{}),
		socketDir: filepath.Join(os.TempDir(), "wf-"+node), cniConf: filepath.Join(dir, "net.d")}
	for _, d := range []string{dir, z.socketDir, z.cniConf, filepath.Join(dir, "cni-bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.RemoveAll(z.socketDir) })
	cfg := nodeconfig.Config{ConfigName: configName, TrustDomain: trustDom, CAAddress: e.caAddr, LogLevel: "info",
		DrainSeconds: 3, ExcludedNamespaces: []string{"kube-system"},
		Capture: nodeconfig.Capture{Mode: "InPod"}, CNI: nodeconfig.CNI{BinDir: filepath.Join(dir, "cni-bin"), ConfDir: z.cniConf}}
	raw, _ := yaml.Marshal(cfg)
	files := map[string][]byte{
		"config.yaml":            raw,
		"root-cert.pem":          e.bundlePEM,
		"token":                  []byte(e.token(systemNS, "ztunnel-"+configName, "ztunnel-"+node)),
		"net.d/10-test.conflist": []byte(`{"cniVersion":"1.0.0","name":"test","plugins":[{"type":"bridge"}]}`),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	z.stats, z.ready = freeAddr(t), freeAddr(t)
	z.cmd = exec.Command(filepath.Join(e.bin, "ztunnel"),
		"--config="+filepath.Join(dir, "config.yaml"), "--kubeconfig="+e.kubeconfig, "--node-name="+node,
		"--node-addrs="+e.topo.Gateway.String(), "--ztunnel-config="+configName,
		"--token-file="+filepath.Join(dir, "token"), "--root-cert="+filepath.Join(dir, "root-cert.pem"),
		"--ca-server-name=wayfabric-ca."+systemNS+".svc", "--socket-dir="+z.socketDir, "--proc-root=/proc",
		"--cni-bin-dir="+filepath.Join(dir, "cni-bin"), "--cni-conf-dir="+z.cniConf,
		"--cni-plugin="+filepath.Join(e.bin, "wayfabric-cni"),
		"--stats-addr="+z.stats, "--ready-addr="+z.ready, "--log-level=info")
	z.cmd.Args = append(z.cmd.Args, e.extraArgs...)
	z.cmd.Stdout, z.cmd.Stderr = z.log, z.log
	if err := z.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = z.cmd.Wait(); close(z.waited) }()
	t.Cleanup(func() {
		_ = z.cmd.Process.Signal(syscall.SIGKILL)
		<-z.waited
		if t.Failed() {
			t.Logf("ztunnel %s log:\n%s", instance, z.log.String())
		}
	})
	e.ztunnels[instance] = z
	eventually(t, 60*time.Second, "ztunnel "+instance+" ready", func() error {
		select {
		case <-z.waited:
			return fmt.Errorf("exited: %s", tail(z.log.String(), 2000))
		default:
		}
		resp, err := http.Get("http://" + z.ready + "/healthz/ready")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		return nil
	})
	return z
}

// cniAdd calls the CNI plugin binary for a pod exactly as a container
// runtime does (ADD, chained after a plugin that assigned the address).
func (e *meshEnv) cniAdd(p *meshPod, z *ztunnelProc) (string, error) {
	conf := map[string]any{"cniVersion": "1.0.0", "name": "test", "type": "wayfabric-cni",
		"socketPath": filepath.Join(z.socketDir, "ztunnel.sock"), "timeoutSeconds": 30,
		"logFile": filepath.Join(z.dir, "cni.log"), "excludedNamespaces": []string{"kube-system"},
		"prevResult": map[string]any{"cniVersion": "1.0.0",
			"interfaces": []any{map[string]any{"name": "eth0", "sandbox": p.NS.Path()}},
			"ips":        []any{map[string]any{"address": p.Addr.String() + "/24", "interface": 0}}}}
	raw, _ := json.Marshal(conf)
	cmd := exec.Command(filepath.Join(e.bin, "wayfabric-cni"))
	cmd.Stdin = bytes.NewReader(raw)
	cmd.Env = append(os.Environ(), "CNI_COMMAND=ADD", "CNI_CONTAINERID=sandbox-"+p.name, "CNI_NETNS="+p.NS.Path(),
		"CNI_IFNAME=eth0", "CNI_PATH="+e.bin,
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s;K8S_POD_INFRA_CONTAINER_ID=sandbox-%s", p.ns, p.name, p.uid, p.name))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *meshEnv) startEcho(p *meshPod) { e.startApp(p, echoEnv) }

func (e *meshEnv) startHTTP(p *meshPod) { e.startApp(p, httpEnv) }

// startApp runs this test binary as the application (selected by env) in pod p.
func (e *meshEnv) startApp(p *meshPod, env string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+p.name)
	if err := p.Start(cmd); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, 10*time.Second, "echo in "+p.name, func() error {
		c, err := p.Dial(context.Background(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), echoPort), netnsNoMark)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// exchange connects from inside pod src to dst as an ordinary application
// would (no mark: its traffic is captured if src is) and returns the
// echo's answer to one line.
func exchange(src *meshPod, dst netip.AddrPort, line string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := src.Dial(ctx, dst, netnsNoMark)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, timeout, err)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// policyObject is an AuthorizationPolicy with the spec given in YAML.
func policyObject(ns, name, spec string) *unstructured.Unstructured {
	var sp map[string]any
	if err := yaml.Unmarshal([]byte(spec), &sp); err != nil {
		panic(err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "mesh.wayfabric.io/v1alpha1",
		"kind": "AuthorizationPolicy", "spec": sp}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// netnsNoMark dials as an application: no mark, so capture applies.
var netnsNoMark = netns.DialOptions{}

func waypointObject(ns, name, forType string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "mesh.wayfabric.io/v1alpha1", "kind": "Waypoint",
		"spec": map[string]any{"for": forType}}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}
