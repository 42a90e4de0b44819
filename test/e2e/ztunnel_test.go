//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// Namespaces of the ztunnel scenarios: ambientNS is enrolled by its label,
// plainNS is not.
const (
	ambientNS = "e2e-ambient"
	plainNS   = "e2e-plain"
	zcName    = "default"
	bridge    = "wfbr0" // hack/cluster's node bridge
)

// ztunnelSpecs are the ztunnel scenarios on the real node (issue: ztunnel).
func ztunnelSpecs() {
	var serverIP, clientIP string

	// The scenarios' ZtunnelConfig selects the real node only; it goes
	// before the later contexts, whose ZtunnelConfigs would overlap it.
	AfterAll(func() {
		_, _ = kubectl("delete", "namespace", ambientNS, plainNS, "--wait=false")
		_, _ = kubectl("delete", "ztunnelconfig", zcName, "--wait=true", "--timeout=2m")
		Eventually(func() []corev1.Pod { return ztunnelPods() }).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(BeEmpty())
	})

	It("a ZtunnelConfig yields a running, Ready ztunnel on the real node that installs its CNI plugin", func() {
		start := time.Now()
		applyZtunnelConfig(version, "")
		Eventually(func() string {
			return jsonpath(`{.status.conditions[?(@.type=="Ready")].status}`, "ztunnelconfig", zcName)
		}).WithTimeout(3*time.Minute).WithPolling(time.Second).Should(Equal("True"),
			"ZtunnelConfig not Ready: %s", jsonpath("{.status.conditions}", "ztunnelconfig", zcName))
		pod := ztunnelPod()
		Expect(pod.Spec.NodeName).To(Equal(nodeName))
		Expect(pod.Spec.Containers[0].Image).To(Equal(imageRepo + "/ztunnel:" + version))
		Expect(pod.Status.ContainerStatuses[0].RestartCount).To(BeZero())
		conf := cniConflist()
		Expect(conf).To(ContainSubstring(`"type": "wayfabric-cni"`), "the ztunnel did not chain its plugin into %s", conf)
		_, err := os.Stat(filepath.Join(clusterDir, "run", "cni", "bin", "wayfabric-cni"))
		Expect(err).NotTo(HaveOccurred(), "the plugin binary is not in the node's CNI bin dir")
		figure("ztunnel-ready", "pod", pod.Name, "applyToReady", time.Since(start).Round(time.Millisecond))
	})

	It("captures a new pod of an enrolled namespace through the CNI plugin before it starts", func() {
		mustKubectl("create", "namespace", ambientNS)
		mustKubectl("label", "namespace", ambientNS, "mesh.wayfabric.io/dataplane-mode=ambient")
		mustKubectl("create", "namespace", plainNS)
		for _, ns := range []string{ambientNS, plainNS} {
			for _, sa := range []string{"echo", "server", "client"} {
				mustKubectl("-n", ns, "create", "serviceaccount", sa)
			}
		}
		start := time.Now()
		apply(echoServer(ambientNS), "-n", ambientNS)
		apply(echoServer(plainNS), "-n", plainNS)
		waitRollout(ambientNS, "deployment/echo", 2*time.Minute)
		waitRollout(plainNS, "deployment/echo", 2*time.Minute)
		startClient(ambientNS)
		startClient(plainNS)
		copyTrustBundle(plainNS)
		serverIP = podIP(ambientNS, "app=echo")
		var setupMs string
		Eventually(func() string {
			setupMs = capturedSetupMs(ambientNS)
			return setupMs
		}).WithTimeout(30*time.Second).ShouldNot(BeEmpty(), "the ztunnel never reported capturing the echo pod")
		for _, l := range strings.Split(ztunnelLogs(), "\n") {
			Expect(strings.Contains(l, `"msg":"pod captured"`) && strings.Contains(l, `"pod":"`+plainNS+`/`)).To(BeFalse(),
				"a pod of an unenrolled namespace was captured: %s", l)
		}
		figure("ztunnel-capture-new-pod", "server", serverIP, "captureSetupMs", setupMs,
			"deploymentReadyAfter", time.Since(start).Round(time.Millisecond))
	})

	It("an unmodified client pod in an enrolled namespace reaches an enrolled server by Service name and by pod IP; the server sees the client's address; the ztunnel logs the client's SPIFFE identity", func() {
		for _, url := range []string{"http://echo." + ambientNS + ".svc:8080/by-name", "http://" + serverIP + ":8080/by-ip"} {
			a := getFrom(ambientNS, url)
			Expect(a.Pod).To(HavePrefix("echo-"))
			clientIP = a.clientPodIP
			Expect(a.Remote).To(HavePrefix(clientIP+":"), "the server must see the client pod's own address")
		}
		Expect(ztunnelLogs()).To(ContainSubstring("spiffe://cluster.local/ns/" + ambientNS + "/sa/client"))
	})

	It("a capture on the node's bridge shows only TLS to port 15008 between the two pods, never the payload", func() {
		self, err := netns.Current()
		Expect(err).NotTo(HaveOccurred())
		defer self.Close()
		secret := fmt.Sprintf("secret-path-%d", time.Now().UnixNano())
		sn := netnstest.Sniff(GinkgoT(), self, bridge)
		a := getFrom(ambientNS, "http://echo."+ambientNS+".svc:8080/"+secret)
		segs := sn.Stop()
		Expect(a.Path).To(Equal("/" + secret))
		between, hbone := 0, 0
		for _, s := range segs {
			Expect(strings.Contains(string(s.Raw), secret)).To(BeFalse(), "the payload crossed the bridge in clear: %v -> %v", s.Src, s.Dst)
			if (s.Src.Addr().String() == a.clientPodIP && s.Dst.Addr().String() == serverIP) ||
				(s.Src.Addr().String() == serverIP && s.Dst.Addr().String() == a.clientPodIP) {
				between++
				if s.Src.Port() == 15008 || s.Dst.Port() == 15008 {
					hbone++
				}
			}
		}
		Expect(between).To(BeNumerically(">", 0), "saw nothing between the pods: the capture proves nothing")
		Expect(hbone).To(Equal(between), "segments between the pods on ports other than 15008")
		figure("ztunnel-wire", "segmentsBetweenPods", between, "onPort15008", hbone)
	})

	It("unenrolled and enrolled pods talk as documented: plaintext in from outside the mesh, plaintext out to it", func() {
		a := getFrom(plainNS, "http://echo."+ambientNS+".svc:8080/from-outside")
		Expect(a.Remote).To(HavePrefix(a.clientPodIP+":"), "an unenrolled client keeps its address")
		b := getFrom(ambientNS, "http://echo."+plainNS+".svc:8080/to-outside")
		Expect(b.Pod).To(HavePrefix("echo-"))
	})

	It("through its waypoint when labelled; a pod behind a waypoint refuses direct HBONE", func() {
		apply(fmt.Sprintf(`apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: wp, namespace: %s}
spec:
  for: service
  version: %s
  autoscaling: {horizontal: {minReplicas: 1, maxReplicas: 1}}
`, ambientNS, version))
		waitRollout(ambientNS, "deployment/wp", 3*time.Minute)
		mustKubectl("-n", ambientNS, "label", "service", "echo", "mesh.wayfabric.io/use-waypoint=wp")
		s := parseSummary(runPod(testPodAs(ambientNS, "client", "via-waypoint",
			"load", "-url=http://echo."+ambientNS+".svc:8080/", "-rps=50", "-duration=15s", "-warmup=30s"), 2*time.Minute))
		Expect(s.Failed).To(BeZero(), "errors: %v", s.ErrorSample)
		Eventually(func() string {
			return jsonpath("{.status.load.requestsPerSecond}", "-n", ambientNS, "waypoint", "wp")
		}).WithTimeout(30*time.Second).Should(SatisfyAll(Not(BeEmpty()), Not(Equal("0"))), "the waypoint saw no load")

		By("a client with a valid mesh identity tunnelling straight to the pod is refused")
		d := parseSummary(runPod(testPod(plainNS, "direct-hbone", loadArgs("http://"+serverIP+":8080/", 5, 3*time.Second,
			serverIP+":15008", "spiffe://cluster.local/ns/"+ambientNS+"/sa/server")...), 2*time.Minute))
		Expect(d.Sent).To(BeNumerically(">", 0))
		Expect(d.Failed).To(Equal(d.Sent), "direct HBONE to a pod behind a waypoint must fail")
		Expect(strings.Join(d.ErrorSample, " ")).To(ContainSubstring("certificate"))
		figure("ztunnel-waypoint", "viaWaypointSent", s.Sent, "failed", s.Failed, "p99ms", s.P99Ms,
			"directHBONERefused", d.Failed, "sample", d.ErrorSample[0])
		mustKubectl("-n", ambientNS, "label", "service", "echo", "mesh.wayfabric.io/use-waypoint-")
	})

	It("AuthorizationPolicy: through the waypoint a path is denied to one identity only (L7); the server's ztunnel admits only the allowed identity (L4), changes applied under load", func() {
		loadAs := func(sa, name, url string) loadSummary {
			return parseSummary(runPod(testPodAs(ambientNS, sa, name, "load", "-url="+url, "-rps=5", "-duration=3s", "-timeout=2s"), 2*time.Minute))
		}
		policy := func(principals string) string {
			return fmt.Sprintf(`apiVersion: mesh.wayfabric.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: echo-clients, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [%[2]s]}}]
`, ambientNS, principals)
		}
		By("L7: through the waypoint, /admin is denied to the echo identity and served to the client identity")
		mustKubectl("-n", ambientNS, "label", "service", "echo", "mesh.wayfabric.io/use-waypoint=wp")
		apply(fmt.Sprintf(`apiVersion: mesh.wayfabric.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: admin-not-for-echo, namespace: %[1]s}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/%[1]s/sa/echo"]}}]
    to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`, ambientNS))
		admin := "http://echo." + ambientNS + ".svc:8080/admin/keys"
		var l7 loadSummary
		Eventually(func() string {
			l7 = loadAs("echo", fmt.Sprintf("l7-denied-%d", time.Now().UnixNano()%100000), admin)
			if l7.Sent == 0 || l7.Failed != l7.Sent {
				return fmt.Sprintf("%d of %d failed", l7.Failed, l7.Sent)
			}
			return strings.Join(l7.ErrorSample, " ")
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(ContainSubstring("status 403"))
		allowed := loadAs("client", "l7-allowed", admin)
		Expect(allowed.Sent).To(BeNumerically(">", 0))
		if allowed.Failed != 0 {
			wp, _ := kubectl("-n", ambientNS, "logs", "deployment/wp", "--tail=30")
			Fail(fmt.Sprintf("the client identity was refused /admin: %v\nwaypoint:\n%s\nztunnel:\n%s\npolicies: %s",
				allowed.ErrorSample, wp, ztunnelLogsOf(zcName, 30), mustKubectl("get", "authorizationpolicies", "-A", "-o", "wide")))
		}
		other := loadAs("echo", "l7-other-path", "http://echo."+ambientNS+".svc:8080/public")
		Expect(other.Failed).To(BeZero(), "the echo identity was refused another path: %v", other.ErrorSample)
		mustKubectl("-n", ambientNS, "delete", "authorizationpolicy", "admin-not-for-echo")
		mustKubectl("-n", ambientNS, "label", "service", "echo", "mesh.wayfabric.io/use-waypoint-")

		By("L4: only the client service account may connect to the echo pods; the policy is created and changed while the client's load runs")
		// 50 new connections a second from the allowed identity while the
		// policy appears and changes: none may fail.
		underLoad := testPodAs(ambientNS, "client", "authz-under-load", "load", "-url=http://"+serverIP+":8080/",
			"-rps=50", "-new-conn", "-duration=60s", "-timeout=5s", "-warmup=30s")
		startPod(underLoad)
		Eventually(func() string { return jsonpath("{.status.phase}", "-n", ambientNS, "pod", underLoad.Name) }).
			WithTimeout(time.Minute).Should(Equal("Running"))
		time.Sleep(5 * time.Second)
		apply(policy(fmt.Sprintf(`"cluster.local/ns/%s/sa/client"`, ambientNS)))
		var denied loadSummary
		Eventually(func() bool {
			denied = loadAs("echo", fmt.Sprintf("l4-denied-%d", time.Now().UnixNano()%100000), "http://"+serverIP+":8080/")
			return denied.Sent > 0 && denied.Failed == denied.Sent
		}).WithTimeout(2*time.Minute).WithPolling(time.Second).Should(BeTrue(),
			func() string { return fmt.Sprintf("the echo identity still connects: %+v", denied) })
		Expect(getFrom(ambientNS, "http://"+serverIP+":8080/allowed").Pod).To(HavePrefix("echo-"))
		apply(policy(fmt.Sprintf(`"cluster.local/ns/%[1]s/sa/client", "cluster.local/ns/%[1]s/sa/server"`, ambientNS)))
		during := parseSummary(waitPod(underLoad, 2*time.Minute))
		Expect(during.Sent).To(BeNumerically(">", 1000))
		Expect(during.Failed).To(BeZero(), "the allowed client failed while the policy was created and changed: %v", during.ErrorSample)
		Expect(ztunnelLogs()).To(And(ContainSubstring("connection denied by authorization policy"),
			ContainSubstring("/sa/echo")), "the denial is not logged with its peer")
		mustKubectl("-n", ambientNS, "delete", "authorizationpolicy", "echo-clients")

		// Every pod above was captured by the CNI plugin at creation, before
		// the API showed its address; none was let go meanwhile.
		Expect(ztunnelLogs()).NotTo(ContainSubstring("pod no longer enrolled"))
		figure("authorization-real-node", "allowedUnderPolicyChanges", during.Sent, "failedUnderPolicyChanges", during.Failed, "l4DeniedConnections", denied.Failed, "l7Denied403", l7.Failed,
			"l7AllowedForClient", allowed.Sent, "l7OtherPathForEcho", other.Sent)
	})

	It("figures: pod to pod through the ztunnel vs plain pod to pod, same run", func() {
		const rps, d = 1000, 20 * time.Second
		pid := ztunnelPID()
		measure := func(ns, name string) (loadSummary, float64) {
			cpu0 := procCPUSeconds(pid)
			s := parseSummary(runPod(testPodAs(ns, "client", name, "load", "-url=http://echo."+ns+".svc:8080/",
				fmt.Sprintf("-rps=%d", rps), "-duration="+d.String(), "-concurrency=64", "-warmup=30s"), 3*time.Minute))
			return s, procCPUSeconds(pid) - cpu0
		}
		plain, _ := measure(plainNS, "figures-plain")
		mesh, cpu := measure(ambientNS, "figures-mesh")
		Expect(mesh.Failed).To(BeZero(), "errors: %v", mesh.ErrorSample)
		Expect(plain.Failed).To(BeZero(), "errors: %v", plain.ErrorSample)
		rss := procRSSMB(pid)
		bytes := func(ns string) float64 {
			out, err := kubectl("-n", ns, "exec", "client", "--", "/echo", "get", "-url=http://echo."+ns+".svc:8080/bytes?n=1073741824")
			Expect(err).NotTo(HaveOccurred(), out)
			var n int64
			var secs, mbps float64
			_, err = fmt.Sscanf(strings.TrimSpace(out), "BYTES n=%d seconds=%f mbps=%f", &n, &secs, &mbps)
			Expect(err).NotTo(HaveOccurred(), out)
			return mbps
		}
		plainMbps, meshMbps := bytes(plainNS), bytes(ambientNS)
		figure("ztunnel-vs-plain", "rps", rps, "seconds", d.Seconds(),
			"p50MeshMs", mesh.P50Ms, "p50PlainMs", plain.P50Ms, "addedP50Ms", fmt.Sprintf("%.3f", mesh.P50Ms-plain.P50Ms),
			"p99MeshMs", mesh.P99Ms, "p99PlainMs", plain.P99Ms, "addedP99Ms", fmt.Sprintf("%.3f", mesh.P99Ms-plain.P99Ms),
			"ztunnelCPUPer1000rps", fmt.Sprintf("%.3f", cpu/d.Seconds()/(rps/1000.0)),
			"ztunnelRSSMB", fmt.Sprintf("%.1f", rss),
			"throughputMeshMbps", fmt.Sprintf("%.0f", meshMbps), "throughputPlainMbps", fmt.Sprintf("%.0f", plainMbps),
			"throughputRatio", fmt.Sprintf("%.2f", meshMbps/plainMbps))
	})

	It("ztunnel upgrade, resources change and rollback under connection churn fail no connection", func() {
		// 200 new connections a second, each one short request, from a plain
		// client to an enrolled server: every one goes through the client's
		// and the server's ztunnel (one process on this node) while it is
		// replaced three times.
		load := testPodAs(ambientNS, "client", "load-through-upgrades", "load", "-url=http://"+serverIP+":8080/",
			"-rps=200", "-new-conn", "-concurrency=200", "-duration=150s", "-timeout=5s", "-progress=5s")
		startPod(load)
		Eventually(func() string { return jsonpath("{.status.phase}", "-n", ambientNS, "pod", load.Name) }).
			WithTimeout(time.Minute).Should(Equal("Running"))
		time.Sleep(5 * time.Second)

		var extraRSS float64
		roll := func(name, v, extra string) time.Duration {
			before := ztunnelPod().Name
			start := time.Now()
			applyZtunnelConfig(v, extra)
			Eventually(func() string {
				pods := ztunnelPods()
				if rss := ztunnelRSSMB(); len(rss) == 2 {
					extraRSS = max(extraRSS, min(rss[0], rss[1]))
				}
				if len(pods) != 1 || pods[0].Name == before || len(pods[0].Status.ContainerStatuses) == 0 ||
					!pods[0].Status.ContainerStatuses[0].Ready {
					return fmt.Sprintf("%d ztunnel pods", len(pods))
				}
				return pods[0].Spec.Containers[0].Image
			}).WithTimeout(3*time.Minute).WithPolling(250*time.Millisecond).Should(Equal(imageRepo+"/ztunnel:"+v), "%s did not complete", name)
			return time.Since(start)
		}
		upgrade := roll("upgrade", nextVersion, "")
		resources := roll("resources change", nextVersion, "  resources: {requests: {cpu: 20m, memory: 40Mi}}")
		rollback := roll("rollback", version, "")
		logs := waitPod(load, 4*time.Minute)
		sum := parseSummary(logs)
		Expect(sum.Sent).To(BeNumerically(">", 10000), logs)
		Expect(sum.Failed).To(BeZero(), "connections failed while the ztunnel was replaced:\n%s", logs)
		st := ztunnelStatus()
		Expect(st.CapturedPods).To(BeNumerically(">=", 2), "after the rollback the ztunnel serves %d pods", st.CapturedPods)
		figure("ztunnel-upgrades", "newConnections", sum.Sent, "failed", sum.Failed,
			"upgrade", upgrade.Round(100*time.Millisecond), "resourcesChange", resources.Round(100*time.Millisecond),
			"rollback", rollback.Round(100*time.Millisecond), "drainSeconds", 5, "secondProcessRSSMB", fmt.Sprintf("%.1f", extraRSS))
	})

	It("ztunnel killed with SIGKILL: enrolled traffic fails closed and recovers after the restart with every pod adopted", func() {
		self, err := netns.Current()
		Expect(err).NotTo(HaveOccurred())
		defer self.Close()
		before := ztunnelPod()
		clientIP := jsonpath("{.status.podIP}", "-n", ambientNS, "pod", "client")
		sn := netnstest.Sniff(GinkgoT(), self, bridge)
		load := testPodAs(ambientNS, "client", "load-through-kill", "load", "-url=http://"+serverIP+":8080/",
			"-rps=20", "-duration=40s", "-timeout=2s", "-progress=1s")
		startPod(load)
		Eventually(func() string { return jsonpath("{.status.phase}", "-n", ambientNS, "pod", load.Name) }).
			WithTimeout(time.Minute).Should(Equal("Running"))
		time.Sleep(5 * time.Second)
		Expect(syscall.Kill(ztunnelPID(), syscall.SIGKILL)).To(Succeed())
		killed := time.Now()
		Eventually(func() int32 {
			p := ztunnelPod()
			if len(p.Status.ContainerStatuses) == 0 || !p.Status.ContainerStatuses[0].Ready {
				return 0
			}
			return p.Status.ContainerStatuses[0].RestartCount
		}).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).Should(BeNumerically(">", before.Status.ContainerStatuses[0].RestartCount))
		readyAgain := time.Since(killed)
		logs := waitPod(load, 2*time.Minute)
		segs := sn.Stop()

		// Failures while no ztunnel ran (fail closed), none at the end (recovered).
		var failed []int
		for _, l := range strings.Split(logs, "\n") {
			var sent, f, d int
			if _, err := fmt.Sscanf(l, "PROGRESS sent=%d failed=%d dropped=%d", &sent, &f, &d); err == nil {
				failed = append(failed, f)
			}
		}
		Expect(len(failed)).To(BeNumerically(">", 20), logs)
		Expect(failed[len(failed)-1]).To(BeNumerically(">", 0), "no request failed: the kill was not observed")
		Expect(failed[len(failed)-1]).To(Equal(failed[len(failed)-6]), "requests still failing after the restart: %v", failed)
		// Never plaintext between the pods, even while the ztunnel was gone.
		for _, s := range segs {
			pair := (s.Src.Addr().String() == clientIP && s.Dst.Addr().String() == serverIP) ||
				(s.Src.Addr().String() == serverIP && s.Dst.Addr().String() == clientIP)
			Expect(pair && s.Src.Port() != 15008 && s.Dst.Port() != 15008).To(BeFalse(),
				"plaintext between the pods while the ztunnel was down: %v -> %v", s.Src, s.Dst)
		}
		st := ztunnelStatus()
		Expect(st.CapturedPods).To(BeNumerically(">=", 2), "the restarted ztunnel adopted %d pods", st.CapturedPods)
		figure("ztunnel-sigkill", "failedWhileDown", failed[len(failed)-1], "readyAgainAfter", readyAgain.Round(time.Millisecond),
			"adoptedPods", st.CapturedPods)
	})
}

// ztunnelStatus reads the ztunnel's /status from the node.
func ztunnelStatus() (st struct{ CapturedPods int }) {
	GinkgoHelper()
	resp, err := http.Get("http://" + ztunnelPod().Status.PodIP + ":15020/status")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(json.NewDecoder(resp.Body).Decode(&st)).To(Succeed())
	return st
}

// applyZtunnelConfig applies the scenarios' ZtunnelConfig at version with
// the local cluster's CNI directories and extra spec lines.
func applyZtunnelConfig(v, extra string) {
	GinkgoHelper()
	apply(fmt.Sprintf(`apiVersion: mesh.wayfabric.io/v1alpha1
kind: ZtunnelConfig
metadata: {name: %s}
spec:
  version: %s
  nodeSelector: {kubernetes.io/hostname: %s}
  cni: {binDir: %s, confDir: %s}
  upgrade: {drainSeconds: 5}
%s`, zcName, v, nodeName, filepath.Join(clusterDir, "run", "cni", "bin"), filepath.Join(clusterDir, "run", "cni", "net.d"), extra))
}

func ztunnelPod() corev1.Pod {
	GinkgoHelper()
	live := ztunnelPods()
	Expect(live).To(HaveLen(1), "one ztunnel pod on the node")
	return live[0]
}

// ztunnelPods lists the ztunnel pods on the real node not being deleted
// (two while one hands over to the other). The fake kwok nodes, when the
// suite runs with them, get a ztunnel pod each too.
func ztunnelPods() []corev1.Pod { return ztunnelPodsOf(zcName) }

func ztunnelPodsOf(config string) []corev1.Pod {
	GinkgoHelper()
	var pods corev1.PodList
	Expect(getJSON(&pods, "-n", operatorNS, "pods", "-l", "mesh.wayfabric.io/ztunnel-config="+config,
		"--field-selector", "spec.nodeName="+nodeName)).To(Succeed())
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// ztunnelLogs are the logs of the ztunnel pods on the real node.
func ztunnelLogs() string { return ztunnelLogsOf(zcName, -1) }

// ztunnelLogsOf returns the last tail lines (-1: all) of each ztunnel pod
// of config on the real node.
func ztunnelLogsOf(config string, tail int) string {
	var all strings.Builder
	for _, p := range ztunnelPodsOf(config) {
		out, _ := kubectl("-n", operatorNS, "logs", p.Name, "--tail="+strconv.Itoa(tail))
		all.WriteString(out)
	}
	return all.String()
}

// ztunnelPID finds the ztunnel process on this node by its command line.
func ztunnelPID() int {
	GinkgoHelper()
	pids := ztunnelPIDs()
	if len(pids) == 0 {
		Fail("no ztunnel process on the node")
	}
	return pids[0]
}

// ztunnelRSSMB is the resident memory of each ztunnel process on the node
// (a process that exits meanwhile is left out).
func ztunnelRSSMB() []float64 {
	var out []float64
	for _, pid := range ztunnelPIDs() {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			out = append(out, procRSSMB(pid))
		}
	}
	return out
}

// ztunnelPIDs lists the ztunnel processes on this node.
func ztunnelPIDs() []int {
	GinkgoHelper()
	entries, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(cmd), "/ztunnel\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cniConflist() string {
	GinkgoHelper()
	files, err := filepath.Glob(filepath.Join(clusterDir, "run", "cni", "net.d", "*.conflist"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	b, err := os.ReadFile(files[0])
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// capturedSetupMs returns the setup time the ztunnel logged for the first
// pod of ns it captured, or "".
func capturedSetupMs(ns string) string {
	for _, l := range strings.Split(ztunnelLogs(), "\n") {
		if strings.Contains(l, `"msg":"pod captured"`) && strings.Contains(l, `"pod":"`+ns+`/`) {
			var rec struct {
				SetupMs json.Number `json:"setupMs"`
			}
			if json.Unmarshal([]byte(l), &rec) == nil {
				return rec.SetupMs.String()
			}
		}
	}
	return ""
}

func echoServer(ns string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      serviceAccountName: server
      nodeSelector: {kubernetes.io/hostname: %[2]s}
      containers:
      - name: echo
        image: %[3]s
        imagePullPolicy: Never
        args: [serve]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
        securityContext: {runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: %[1]s}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 8080, targetPort: http}]
`, ns, nodeName, echoImage)
}

func podIP(ns, selector string) string {
	GinkgoHelper()
	ip := jsonpath("{.items[0].status.podIP}", "-n", ns, "pods", "-l", selector)
	Expect(ip).NotTo(BeEmpty())
	return ip
}

// echoAnswer is the echo server's answer, plus the asking pod's address.
type echoAnswer struct {
	Pod, Method, Path, Host, Forwarded, Remote string
	clientPodIP                                string
}

// getFrom runs `echo get url` inside the long-running client pod of ns
// (an ordinary HTTP client, no mesh code) and returns the answer.
func getFrom(ns, url string) echoAnswer {
	GinkgoHelper()
	out, err := kubectl("-n", ns, "exec", "client", "--", "/echo", "get", "-url="+url, "-retry=30s")
	Expect(err).NotTo(HaveOccurred(), out)
	var a echoAnswer
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "ANSWER 200 "); ok {
			Expect(json.Unmarshal([]byte(rest), &a)).To(Succeed())
		}
	}
	Expect(a.Pod).NotTo(BeEmpty(), "no answer in %s", out)
	a.clientPodIP = jsonpath("{.status.podIP}", "-n", ns, "pod", "client")
	return a
}

// startClient runs a long-lived client pod "client" (service account
// client) in ns, to exec requests from.
func startClient(ns string) {
	GinkgoHelper()
	p := testPodAs(ns, "client", "client", "serve", "-addr=:9999")
	p.Spec.RestartPolicy = corev1.RestartPolicyAlways
	startPod(p)
	Eventually(func() string {
		return jsonpath("{.status.phase}", "-n", ns, "pod", "client")
	}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("Running"))
}

// testPodAs is an ordinary application pod of the echo image running as
// service account sa: no mesh credentials, no trust bundle, no token.
func testPodAs(ns, sa, name string, args ...string) *corev1.Pod {
	p := testPod(ns, name, args...)
	p.Spec.ServiceAccountName = sa
	p.Spec.Volumes = nil
	p.Spec.Containers[0].VolumeMounts = nil
	return p
}

// copyTrustBundle puts the mesh CA's trust bundle into ns, for test pods
// that speak HBONE themselves.
func copyTrustBundle(ns string) {
	GinkgoHelper()
	var cm corev1.ConfigMap
	Expect(getJSON(&cm, "-n", operatorNS, "configmap", "wayfabric-trust-bundle")).To(Succeed())
	out := corev1.ConfigMap{TypeMeta: cm.TypeMeta, Data: cm.Data}
	out.Name, out.Namespace = cm.Name, ns
	out.APIVersion, out.Kind = "v1", "ConfigMap"
	b, err := json.Marshal(out)
	Expect(err).NotTo(HaveOccurred())
	apply(string(b))
}

// runPodLogs runs pod to completion; err is set when it failed.
func runPodLogs(pod *corev1.Pod, timeout time.Duration) (string, error) {
	GinkgoHelper()
	startPod(pod)
	var phase string
	Eventually(func() string {
		phase = jsonpath("{.status.phase}", "-n", pod.Namespace, "pod", pod.Name)
		return phase
	}).WithTimeout(timeout).WithPolling(time.Second).Should(BeElementOf("Succeeded", "Failed"))
	logs, _ := kubectl("-n", pod.Namespace, "logs", pod.Name)
	if phase != "Succeeded" {
		return logs, fmt.Errorf("pod %s failed", pod.Name)
	}
	return logs, nil
}

// procCPUSeconds is a process's user+system CPU time so far.
func procCPUSeconds(pid int) float64 {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	Expect(err).NotTo(HaveOccurred())
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// procRSSMB is a process's resident memory.
func procRSSMB(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0 // exited
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
