package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/go-logr/logr/funcr"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/uds"
)

// ztunnel is a node-socket server with a recording handler, as the real
// ztunnel would run it.
type ztunnel struct {
	socket string
	mu     sync.Mutex
	added  []cni.PodInfo
	inodes []uint64
	dels   []cni.PodInfo
	reply  cni.Reply
}

func (z *ztunnel) AddPod(ctx context.Context, pod cni.PodInfo, netns *os.File) cni.Reply {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(netns.Fd()), &st); err != nil {
		return cni.Reply{Error: err.Error()}
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.added = append(z.added, pod)
	z.inodes = append(z.inodes, st.Ino)
	return z.reply
}

func (z *ztunnel) DelPod(ctx context.Context, pod cni.PodInfo) cni.Reply {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.dels = append(z.dels, pod)
	return cni.Reply{Message: "released"}
}

func (z *ztunnel) seen() ([]cni.PodInfo, []uint64, []cni.PodInfo) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.added), slices.Clone(z.inodes), slices.Clone(z.dels)
}

func startZtunnel(t *testing.T, reply cni.Reply) *ztunnel {
	t.Helper()
	dir, err := os.MkdirTemp("", "wfz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	z := &ztunnel{socket: filepath.Join(dir, "ztunnel.sock"), reply: reply}
	l, err := uds.Listen(z.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cni.Serve(ctx, l, z, funcr.New(func(_, args string) { t.Log(args) }, funcr.Options{}))
	}()
	t.Cleanup(func() { cancel(); <-done })
	return z
}

// absentSocket is where no ztunnel listens.
func absentSocket(t *testing.T) string { return filepath.Join(t.TempDir(), "ztunnel.sock") }

// call is one plugin invocation as the runtime makes it.
type call struct {
	command     string
	cniVersion  string
	netns       string
	containerID string
	k8sArgs     string // CNI_ARGS
	conf        map[string]any
	noPrev      bool
	rawStdin    string
}

type outcome struct {
	exit   int
	stdout []byte
	stderr string
}

// cniError is the error a plugin prints on stdout.
type cniError struct {
	Code uint   `json:"code"`
	Msg  string `json:"msg"`
}

func (o outcome) err(t *testing.T) cniError {
	t.Helper()
	var e cniError
	if err := json.Unmarshal(o.stdout, &e); err != nil || e.Msg == "" {
		t.Fatalf("exit %d, stdout is no CNI error: %s (stderr %s)", o.exit, o.stdout, o.stderr)
	}
	return e
}

func podArgs(ns, name string) string {
	return "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + name +
		";K8S_POD_INFRA_CONTAINER_ID=0123456789abcdef;K8S_POD_UID=uid-" + name
}

// prevResult is what the bridge plugin returns before us: the host bridge,
// the host-side veth and eth0 in the pod, with one address each on the
// bridge and in the pod.
func prevResult(version, netns string) map[string]any {
	ip := func(addr string, iface int) map[string]any {
		m := map[string]any{"address": addr, "interface": iface}
		if strings.HasPrefix(version, "0.") {
			m["version"] = "4"
		}
		return m
	}
	return map[string]any{
		"cniVersion": version,
		"interfaces": []any{
			map[string]any{"name": "wfbr0", "mac": "0a:58:0a:f4:00:01"},
			map[string]any{"name": "veth1234", "mac": "0a:58:0a:f4:00:02"},
			map[string]any{"name": "eth0", "mac": "0a:58:0a:f4:00:07", "sandbox": netns},
		},
		"ips":    []any{ip("10.244.0.1/24", 0), ip("10.244.0.7/24", 2)},
		"routes": []any{map[string]any{"dst": "10.96.0.0/12"}},
		"dns":    map[string]any{},
	}
}

func run(t *testing.T, c call) outcome {
	t.Helper()
	if c.cniVersion == "" {
		c.cniVersion = "1.0.0"
	}
	if c.containerID == "" {
		c.containerID = "0123456789abcdef"
	}
	stdin := []byte(c.rawStdin)
	if c.rawStdin == "" {
		conf := map[string]any{"cniVersion": c.cniVersion, "name": "wayfabric", "type": cni.PluginType}
		if !c.noPrev {
			conf["prevResult"] = prevResult(c.cniVersion, c.netns)
		}
		for k, v := range c.conf {
			conf[k] = v
		}
		stdin, _ = json.Marshal(conf)
	}
	cmd := exec.Command(pluginBin)
	cmd.Env = []string{"CNI_COMMAND=" + c.command, "CNI_CONTAINERID=" + c.containerID, "CNI_NETNS=" + c.netns,
		"CNI_IFNAME=eth0", "CNI_PATH=" + filepath.Dir(pluginBin), "CNI_ARGS=" + c.k8sArgs}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	o := outcome{stdout: stdout.Bytes(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		o.exit = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o
}

func pluginConf(t *testing.T, socket string, extra map[string]any) map[string]any {
	conf := map[string]any{"socketPath": socket, "timeoutSeconds": 5, "excludedNamespaces": []string{"kube-system"},
		"logFile": filepath.Join(t.TempDir(), "cni.log")}
	for k, v := range extra {
		conf[k] = v
	}
	return conf
}

// decisions reads the plugin's log.
func decisions(t *testing.T, conf map[string]any) []decision {
	t.Helper()
	f, err := os.Open(conf["logFile"].(string))
	if err != nil {
		t.Fatalf("decision log: %v", err)
	}
	defer f.Close()
	var ds []decision
	s := bufio.NewScanner(f)
	for s.Scan() {
		var d decision
		if err := json.Unmarshal(s.Bytes(), &d); err != nil {
			t.Fatalf("log line %q: %v", s.Text(), err)
		}
		ds = append(ds, d)
	}
	return ds
}

func lastDecision(t *testing.T, conf map[string]any) decision {
	t.Helper()
	ds := decisions(t, conf)
	if len(ds) == 0 {
		t.Fatal("nothing logged")
	}
	return ds[len(ds)-1]
}

func TestAddHandsTheNetnsToTheZtunnel(t *testing.T) {
	netns := newNetns(t)
	var want syscall.Stat_t
	if err := syscall.Stat(netns, &want); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		t.Run(version, func(t *testing.T) {
			z := startZtunnel(t, cni.Reply{Captured: true, Message: "captured with spiffe://cluster.local/ns/shop/sa/web"})
			conf := pluginConf(t, z.socket, nil)
			o := run(t, call{command: "ADD", cniVersion: version, netns: netns, k8sArgs: podArgs("shop", "web"), conf: conf})
			if o.exit != 0 {
				t.Fatalf("exit %d: %s %s", o.exit, o.stdout, o.stderr)
			}
			added, inodes, _ := z.seen()
			if len(added) != 1 {
				t.Fatalf("ztunnel saw %d adds", len(added))
			}
			if inodes[0] != want.Ino {
				t.Fatalf("the ztunnel got a namespace with inode %d; %s has %d", inodes[0], netns, want.Ino)
			}
			pod := added[0]
			if pod.Namespace != "shop" || pod.Name != "web" || pod.UID != "uid-web" || pod.ContainerID != "0123456789abcdef" ||
				pod.NetnsPath != netns || pod.IfName != "eth0" || !slices.Equal(pod.IPs, []string{"10.244.0.7"}) {
				t.Fatalf("pod info %+v", pod)
			}

			// The previous result passes through, in the list's version.
			var res struct {
				CNIVersion string `json:"cniVersion"`
				IPs        []struct {
					Address string `json:"address"`
				} `json:"ips"`
				Interfaces []struct {
					Name, Sandbox string
				} `json:"interfaces"`
			}
			if err := json.Unmarshal(o.stdout, &res); err != nil {
				t.Fatalf("result %s: %v", o.stdout, err)
			}
			if res.CNIVersion != version || len(res.IPs) != 2 || res.IPs[1].Address != "10.244.0.7/24" ||
				len(res.Interfaces) != 3 || res.Interfaces[2].Sandbox != netns {
				t.Fatalf("result changed: %s", o.stdout)
			}

			d := lastDecision(t, conf)
			if d.Command != "ADD" || d.Pod != "shop/web" || d.Netns != netns || d.Result != "captured" ||
				!strings.Contains(d.Reason, "spiffe://") || d.DurationMs <= 0 {
				t.Fatalf("decision %+v", d)
			}
		})
	}
}

func TestAddAnswersFromTheZtunnel(t *testing.T) {
	netns := newNetns(t)
	for _, tc := range []struct {
		name     string
		reply    cni.Reply
		exit     int
		result   string
		errorMsg string
	}{
		{name: "not enrolled", reply: cni.Reply{Message: "not enrolled"}, result: "not-enrolled"},
		{name: "ztunnel refuses", reply: cni.Reply{Error: "no certificate for spiffe://cluster.local/ns/shop/sa/web: CA unreachable"},
			exit: 1, result: "failed",
			errorMsg: "ztunnel could not capture pod shop/web: no certificate for spiffe://cluster.local/ns/shop/sa/web: CA unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := startZtunnel(t, tc.reply)
			conf := pluginConf(t, z.socket, nil)
			o := run(t, call{command: "ADD", netns: netns, k8sArgs: podArgs("shop", "web"), conf: conf})
			if o.exit != tc.exit {
				t.Fatalf("exit %d, want %d: %s %s", o.exit, tc.exit, o.stdout, o.stderr)
			}
			if tc.errorMsg != "" {
				e := o.err(t)
				if e.Msg != tc.errorMsg || e.Code != types.ErrTryAgainLater {
					t.Fatalf("CNI error %+v, want code 11 (try again later) %q", e, tc.errorMsg)
				}
				if !strings.Contains(o.stderr, tc.errorMsg) {
					t.Fatalf("stderr lacks the error: %q", o.stderr)
				}
			}
			if d := lastDecision(t, conf); d.Result != tc.result {
				t.Fatalf("decision %+v", d)
			}
		})
	}
}

func TestAddLeavesOtherSandboxesAlone(t *testing.T) {
	netns := newNetns(t)
	// A ztunnel that would refuse everything, and none at all: neither
	// may matter here.
	z := startZtunnel(t, cni.Reply{Error: "must not be asked"})
	for _, tc := range []struct {
		name, socket, args, result string
	}{
		{"not a Kubernetes pod", z.socket, "IgnoreUnknown=1", "not-kubernetes"},
		{"no CNI_ARGS", z.socket, "", "not-kubernetes"},
		{"excluded namespace", z.socket, podArgs("kube-system", "coredns-1"), "excluded"},
		{"excluded namespace, no ztunnel", absentSocket(t), podArgs("kube-system", "coredns-1"), "excluded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := pluginConf(t, tc.socket, nil)
			o := run(t, call{command: "ADD", netns: netns, k8sArgs: tc.args, conf: conf})
			if o.exit != 0 {
				t.Fatalf("exit %d: %s %s", o.exit, o.stdout, o.stderr)
			}
			if d := lastDecision(t, conf); d.Result != tc.result {
				t.Fatalf("decision %+v", d)
			}
		})
	}
	if added, _, _ := z.seen(); len(added) != 0 {
		t.Fatalf("the ztunnel was asked about %+v", added)
	}
}

func TestBadInput(t *testing.T) {
	netns := newNetns(t)
	z := startZtunnel(t, cni.Reply{Captured: true})
	for _, tc := range []struct {
		name string
		c    call
		code uint
		msg  string
	}{
		{"stdin is not JSON", call{rawStdin: `{"cniVersion": "1.0.0", "name": `}, types.ErrDecodingFailure, ""},
		{"no network name", call{rawStdin: `{"cniVersion":"1.0.0","type":"wayfabric-cni"}`}, types.ErrInvalidNetworkConfig, "missing network name"},
		{"relative socket path", call{conf: map[string]any{"socketPath": "run/ztunnel.sock"}}, types.ErrDecodingFailure, `socketPath "run/ztunnel.sock" must be an absolute path`},
		{"timeout of the wrong type", call{conf: map[string]any{"socketPath": z.socket, "timeoutSeconds": "30"}}, types.ErrDecodingFailure, "timeoutSeconds"},
		{"CNI version not spoken", call{cniVersion: "0.2.0", conf: map[string]any{"socketPath": z.socket}}, types.ErrIncompatibleCNIVersion, "incompatible CNI versions"},
		{"not chained", call{noPrev: true, conf: map[string]any{"socketPath": z.socket}}, types.ErrInvalidNetworkConfig, "chained plugin"},
		{"CNI_ARGS without namespace", call{k8sArgs: "K8S_POD_NAME=web", conf: map[string]any{"socketPath": z.socket}}, types.ErrInvalidEnvironmentVariables, "without K8S_POD_NAMESPACE"},
		{"netns gone", call{netns: "/proc/nonexistent/ns/net", k8sArgs: podArgs("shop", "web"), conf: map[string]any{"socketPath": z.socket}}, types.ErrInvalidNetNS, "opening the network namespace of pod shop/web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.command = "ADD"
			if c.netns == "" {
				c.netns = netns
			}
			if c.k8sArgs == "" {
				c.k8sArgs = podArgs("shop", "web")
			}
			o := run(t, c)
			if o.exit == 0 {
				t.Fatalf("bad input accepted: %s", o.stdout)
			}
			e := o.err(t)
			if e.Code != tc.code || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("CNI error %+v; want code %d mentioning %q", e, tc.code, tc.msg)
			}
		})
	}
	if added, _, _ := z.seen(); len(added) != 0 {
		t.Fatalf("the ztunnel was asked despite bad input: %+v", added)
	}
}

func TestVersionAndCheck(t *testing.T) {
	o := run(t, call{command: "VERSION"})
	var v struct {
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(o.stdout, &v); err != nil || o.exit != 0 {
		t.Fatalf("VERSION: %s %v", o.stdout, err)
	}
	for _, want := range []string{"0.4.0", "1.0.0", "1.1.0"} {
		if !slices.Contains(v.SupportedVersions, want) {
			t.Fatalf("VERSION lacks %s: %v", want, v.SupportedVersions)
		}
	}
	netns := newNetns(t)
	if o := run(t, call{command: "CHECK", netns: netns, k8sArgs: podArgs("shop", "web"), conf: pluginConf(t, absentSocket(t), nil)}); o.exit != 0 {
		t.Fatalf("CHECK: exit %d %s", o.exit, o.stdout)
	}
}

func TestDelIsIdempotentAndNeverFails(t *testing.T) {
	netns := newNetns(t)
	z := startZtunnel(t, cni.Reply{Captured: true})
	conf := pluginConf(t, z.socket, nil)
	for i := range 2 {
		if o := run(t, call{command: "DEL", netns: netns, k8sArgs: podArgs("shop", "web"), conf: conf}); o.exit != 0 {
			t.Fatalf("DEL #%d: exit %d %s %s", i+1, o.exit, o.stdout, o.stderr)
		}
	}
	if _, _, dels := z.seen(); len(dels) != 2 || dels[0].String() != "shop/web" || dels[0].ContainerID != "0123456789abcdef" {
		t.Fatalf("the ztunnel saw %+v", dels)
	}
	if d := lastDecision(t, conf); d.Command != "DEL" || d.Result != "released" || d.Reason != "released" {
		t.Fatalf("decision %+v", d)
	}

	for _, tc := range []struct {
		name string
		c    call
	}{
		{"no ztunnel", call{netns: netns, conf: pluginConf(t, absentSocket(t), nil)}},
		{"netns already gone", call{netns: "", conf: pluginConf(t, z.socket, nil)}},
		{"no prevResult", call{netns: netns, noPrev: true, conf: pluginConf(t, z.socket, nil)}},
		{"semantically bad config", call{netns: netns, conf: map[string]any{"socketPath": "relative.sock"}}},
		{"ztunnel that refuses", call{netns: netns, conf: pluginConf(t, startZtunnel(t, cni.Reply{}).socket, nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.command, c.k8sArgs = "DEL", podArgs("shop", "web")
			if o := run(t, c); o.exit != 0 {
				t.Fatalf("exit %d %s %s", o.exit, o.stdout, o.stderr)
			}
		})
	}
}

func TestHungZtunnelFailsClosed(t *testing.T) {
	netns := newNetns(t)
	// A ztunnel whose handler does not return within the plugin's
	// timeout, and no kubeconfig to ask the API instead.
	block := make(chan struct{})
	defer close(block)
	hung := startHung(t, block)
	conf := pluginConf(t, hung, map[string]any{"timeoutSeconds": 1})
	start := time.Now()
	o := run(t, call{command: "ADD", netns: netns, k8sArgs: podArgs("shop", "web"), conf: conf})
	if o.exit == 0 {
		t.Fatal("a pod passed while the ztunnel did not answer and the API could not be asked")
	}
	if e := o.err(t); !strings.Contains(e.Msg, "cannot tell whether pod shop/web is enrolled") || !strings.Contains(e.Msg, "deadline exceeded") {
		t.Fatalf("CNI error %+v", e)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the plugin took %s despite timeoutSeconds=1", took)
	}
}

// startHung runs a ztunnel whose handler blocks until block closes.
func startHung(t *testing.T, block chan struct{}) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wfh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "ztunnel.sock")
	l, err := uds.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cni.Serve(ctx, l, hungHandler(block), funcr.New(func(_, args string) { t.Log(args) }, funcr.Options{}))
	}()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

type hungHandler chan struct{}

func (h hungHandler) AddPod(ctx context.Context, pod cni.PodInfo, netns *os.File) cni.Reply {
	select {
	case <-h:
	case <-ctx.Done():
	}
	return cni.Reply{Error: "late"}
}

func (h hungHandler) DelPod(ctx context.Context, pod cni.PodInfo) cni.Reply { return cni.Reply{} }
