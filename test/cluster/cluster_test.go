// Package cluster tests the local single-node cluster of hack/cluster: up.sh
// brings up a real node, a pod built from a static Go binary runs on it and
// answers from the host (directly and through a ClusterIP Service served by
// kube-proxy), the cluster DNS answers for Services and for nothing outside
// the cluster, projected service-account tokens authenticate, and down.sh
// leaves the machine exactly as it found it.
//
// It needs root and changes the host's network (a bridge, iptables chains), so
// it only runs when asked to:
//
//	sudo WAYFABRIC_CLUSTER_TEST=1 go test ./test/cluster/ -v -count=1 -timeout 30m
package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	bridge      = "wfbr0"
	helloImage  = "wayfabric.local/hello:v1"
	cgroupName  = "wayfabric"
	testTimeout = 2 * time.Minute
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestClusterUpPodDown(t *testing.T) {
	if os.Getenv("WAYFABRIC_CLUSTER_TEST") != "1" || os.Geteuid() != 0 {
		t.Skip("skipping the local-cluster test: it needs root and WAYFABRIC_CLUSTER_TEST=1 " +
			"(it starts a real Kubernetes node on this machine and changes its network while it runs)")
	}
	root := repoRoot()
	clusterDir := filepath.Join(root, "bin", "cluster")
	if _, err := os.Stat(filepath.Join(clusterDir, "state")); err == nil {
		t.Fatalf("a local cluster is already up (%s/state exists); run `make cluster-down` first so this test can check the teardown", clusterDir)
	}
	os.Setenv("KUBECACHEDIR", filepath.Join(t.TempDir(), "kubecache"))

	before := snapshot(t, clusterDir)

	start := time.Now()
	run(t, root, "hack/cluster/up.sh")
	t.Logf("cluster up in %s", time.Since(start).Round(100*time.Millisecond))
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			_ = exec.Command(filepath.Join(root, "hack/cluster/down.sh")).Run()
		}
	})
	// Idempotent: a second up only says it is up.
	start = time.Now()
	run(t, root, "hack/cluster/up.sh")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("second up.sh took %s; it should only notice that the cluster is up", d)
	}
	// Re-importing an image works (the path other images take into the cluster).
	run(t, root, "hack/cluster/import-images.sh", filepath.Join(clusterDir, "images", "hello.tar"))

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(clusterDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cluster-test-"}}
	ns, err = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("pod runs and answers from the host", func(t *testing.T) { podAnswers(ctx, t, cs, ns.Name) })
	t.Run("projected service-account token authenticates", func(t *testing.T) { tokenAuthenticates(ctx, t, cs, ns.Name) })
	t.Run("cluster DNS resolves Services and nothing else", func(t *testing.T) { dnsResolvesServices(ctx, t, cs) })

	start = time.Now()
	run(t, root, "hack/cluster/down.sh")
	downDone = true
	t.Logf("cluster down in %s", time.Since(start).Round(100*time.Millisecond))
	// down is idempotent too.
	run(t, root, "hack/cluster/down.sh")

	after := snapshot(t, clusterDir)
	if after["cgroups"] != "" {
		t.Errorf("cgroups left after down: %s", after["cgroups"])
	}
	for _, k := range sortedKeys(before, after) {
		if before[k] != after[k] {
			t.Errorf("machine not restored: %s\n  before: %q\n  after:  %q", k, before[k], after[k])
		}
	}
}

// dnsResolvesServices asks the kube-dns Service (through kube-proxy, as a pod
// would) for the kubernetes Service's name, and for a name outside the cluster
// that must not resolve: there is no forwarder, so no query leaves the machine.
func dnsResolvesServices(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	dns, err := cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the cluster DNS Service: %v", err)
	}
	api, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(dns.Spec.ClusterIP, "53"))
	}}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(qctx, "kubernetes.default.svc.cluster.local")
	if err != nil || len(addrs) != 1 || addrs[0] != api.Spec.ClusterIP {
		t.Fatalf("kubernetes.default.svc.cluster.local = %v, %v; want [%s]", addrs, err, api.Spec.ClusterIP)
	}
	if addrs, err := r.LookupHost(qctx, "example.com"); err == nil {
		t.Errorf("example.com resolved to %v: the cluster DNS must not forward outside the cluster", addrs)
	}
	t.Logf("cluster DNS %s: kubernetes.default.svc.cluster.local = %s", dns.Spec.ClusterIP, addrs[0])
}

func podAnswers(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	labels := map[string]string{"app": "hello"}
	nonRoot := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "hello", Image: helloImage, ImagePullPolicy: corev1.PullNever,
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1,
				},
				SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &nonRoot},
			}},
		},
	}
	start := time.Now()
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	deadline := time.Now().Add(testTimeout)
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err == nil && isReady(p) {
			ip = p.Status.PodIP
			t.Logf("pod Ready on node %s with IP %s after %s", p.Spec.NodeName, ip, time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not Ready after %s: %+v (err %v)", testTimeout, p.Status, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	body := httpGet(t, "http://"+net.JoinHostPort(ip, "8080")+"/", 30*time.Second)
	if !strings.Contains(body, "hello from hello") {
		t.Fatalf("pod answered %q, want it to contain %q", body, "hello from hello")
	}
	t.Logf("pod answered from the host: %s", strings.TrimSpace(body))

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body = httpGet(t, "http://"+net.JoinHostPort(svc.Spec.ClusterIP, "80")+"/", testTimeout)
	if !strings.Contains(body, "hello from hello") {
		t.Fatalf("service answered %q", body)
	}
	t.Logf("ClusterIP %s answered from the host (kube-proxy): %s", svc.Spec.ClusterIP, strings.TrimSpace(body))
}

func tokenAuthenticates(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "default", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"wayfabric"}},
	}, metav1.CreateOptions{})
	if err != nil {
		// The default service account appears shortly after the namespace.
		time.Sleep(2 * time.Second)
		tr, err = cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "default", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"wayfabric"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	rev, err := cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token, Audiences: []string{"wayfabric"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "system:serviceaccount:" + ns + ":default"
	if !rev.Status.Authenticated || rev.Status.User.Username != want {
		t.Fatalf("token review: authenticated=%v user=%q error=%q, want %q", rev.Status.Authenticated, rev.Status.User.Username, rev.Status.Error, want)
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func httpGet(t *testing.T, url string, within time.Duration) string {
	t.Helper()
	// No keep-alive: every attempt must take the current path (kube-proxy's rules).
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %d, read error %v", resp.StatusCode, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
}

// snapshot records what the cluster may touch on the host, as comparable strings.
func snapshot(t *testing.T, clusterDir string) map[string]string {
	t.Helper()
	s := map[string]string{}
	// Processes running from our private folder.
	var procs []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), filepath.Join(clusterDir, "run")) {
			procs = append(procs, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	s["processes using bin/cluster/run"] = strings.Join(procs, "\n")
	// Mounts under our folder or the kubelet's fixed paths.
	var mounts []string
	b, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && (strings.HasPrefix(f[1], clusterDir) || strings.HasPrefix(f[1], "/var/lib/kubelet") || strings.HasPrefix(f[1], "/run/netns/cni-")) {
			mounts = append(mounts, f[1])
		}
	}
	s["mounts"] = strings.Join(mounts, "\n")
	// Our bridge and anything attached to it.
	s["link "+bridge] = output("ip", "-o", "link", "show", bridge)
	s["links on "+bridge] = output("ip", "-o", "link", "show", "master", bridge)
	// iptables chains the cluster creates, and nftables tables.
	for _, fam := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle", "raw", "security"} {
			var chains []string
			for _, l := range strings.Split(output(fam+"-save", "-t", table), "\n") {
				if strings.HasPrefix(l, ":KUBE-") || strings.HasPrefix(l, ":CNI-") || (strings.HasPrefix(l, "-A ") && (strings.Contains(l, "KUBE-") || strings.Contains(l, "CNI-"))) {
					chains = append(chains, strings.Fields(l)[0]+" "+strings.Fields(l)[1])
				}
			}
			s[fam+" "+table+" KUBE-/CNI- chains and jumps"] = strings.Join(chains, "\n")
		}
	}
	s["nft tables"] = output("nft", "list", "tables")
	// Sysctls the kubelet, kube-proxy or up.sh change.
	for _, k := range []string{"net.ipv4.ip_forward", "net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables",
		"vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops", "kernel.keys.root_maxkeys",
		"kernel.keys.root_maxbytes", "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_tcp_timeout_established"} {
		s["sysctl "+k] = output("sysctl", "-n", k)
	}
	// Our cgroups and the fixed host paths the kubelet writes.
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupName)
	if _, err := os.Stat("/sys/fs/cgroup/" + cgroupName); err == nil {
		cg = append(cg, "/sys/fs/cgroup/"+cgroupName)
	}
	s["cgroups"] = strings.Join(cg, "\n")
	for _, p := range []string{"/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/etc/cni", "/var/lib/cni", "/opt/containerd", "/run/containerd/s", "/run/mount"} {
		_, err := os.Lstat(p)
		s["exists "+p] = fmt.Sprint(err == nil)
	}
	_, err := os.Stat(filepath.Join(clusterDir, "kubeconfig"))
	s["exists bin/cluster/kubeconfig"] = fmt.Sprint(err == nil)
	return s
}

func output(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return strings.TrimSpace(string(out))
}

func sortedKeys(ms ...map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
