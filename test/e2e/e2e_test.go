//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/internal/testenv"
)

const (
	// nextVersion is the proxy image tag of the upgrade scenarios.
	nextVersion = "v0.1.1"
	// meshNS holds the waypoint and the echo app of the traffic scenarios.
	meshNS   = "e2e-mesh"
	waypoint = "waypoint"
)

var _ = Describe("Wayfabric on the local cluster", Ordered, func() {

	Context("operator", func() {
		It("is deployed from config/default as a pod on the real node and becomes Ready, serving the mesh CA", func() {
			start := time.Now()
			By("installing the Gateway API CRDs (standard channel, the sigs.k8s.io/gateway-api version of go.mod)")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dir, err := testenv.GatewayAPICRDDir()
			Expect(err).NotTo(HaveOccurred())
			mustKubectl("apply", "--server-side", "-f", dir)

			By("applying config/default with the local images (config/local)")
			manifests, err := run(ctx, "", "go", "tool", "kustomize", "build", filepath.Join(repoRoot, "config", "local"))
			Expect(err).NotTo(HaveOccurred())
			apply(manifests)
			waitRollout(operatorNS, "deployment/wayfabric-manager", 3*time.Minute)
			ready := time.Since(start)

			var pods corev1.PodList
			Expect(getJSON(&pods, "-n", operatorNS, "pods", "-l", "app.kubernetes.io/component=manager")).To(Succeed())
			Expect(pods.Items).To(HaveLen(1))
			pod := pods.Items[0]
			Expect(pod.Spec.NodeName).To(Equal(nodeName))
			Expect(pod.Spec.Containers[0].Image).To(Equal(imageRepo + "/manager:" + version))
			Expect(pod.Status.ContainerStatuses[0].RestartCount).To(BeZero(), "the manager restarted")

			By("the mesh CA serves on :15012 behind the wayfabric-ca Service")
			Eventually(func() string {
				return jsonpath("{.items[*].endpoints[*].addresses[*]}", "-n", operatorNS, "endpointslices",
					"-l", "kubernetes.io/service-name=wayfabric-ca")
			}).WithTimeout(30 * time.Second).Should(Equal(pod.Status.PodIP))
			Expect(mustKubectl("-n", operatorNS, "logs", pod.Name)).To(ContainSubstring("mesh CA serving"))
			figure("operator-ready", "pod", pod.Name, "node", pod.Spec.NodeName, "podIP", pod.Status.PodIP,
				"applyToReady", ready.Round(time.Millisecond))
		})

		It("reconciles a Waypoint into a Deployment whose pods run Ready on the real node", func() {
			mustKubectl("create", "namespace", meshNS)
			start := time.Now()
			applyWaypoint("  replicas: 2\n  autoscaling: {horizontal: {enabled: false}}\n")
			var created, readyAt time.Duration
			Eventually(func() error {
				_, err := kubectl("-n", meshNS, "get", "deployment", waypoint)
				return err
			}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
			created = time.Since(start)
			Eventually(func() string {
				return jsonpath("{.status.readyReplicas}", "-n", meshNS, "waypoint", waypoint)
			}).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(Equal("2"))
			readyAt = time.Since(start)

			var dep appsv1.Deployment
			Expect(getJSON(&dep, "-n", meshNS, "deployment", waypoint)).To(Succeed())
			Expect(dep.Spec.Template.Spec.Containers[0].Image).To(Equal(imageRepo + "/waypoint:" + version))
			var pods corev1.PodList
			Expect(getJSON(&pods, "-n", meshNS, "pods", "-l", "mesh.wayfabric.io/waypoint="+waypoint)).To(Succeed())
			Expect(pods.Items).To(HaveLen(2))
			for _, p := range pods.Items {
				Expect(p.Spec.NodeName).To(Equal(nodeName))
				Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			}
			var wp meshv1alpha1.Waypoint
			Expect(getJSON(&wp, "-n", meshNS, "waypoint", waypoint)).To(Succeed())
			Expect(wp.Status.ObservedGeneration).To(Equal(wp.Generation))
			By("the trust bundle is published in the waypoint's namespace")
			Expect(jsonpath("{.data.root-cert\\.pem}", "-n", meshNS, "configmap", "wayfabric-trust-bundle")).
				To(ContainSubstring("BEGIN CERTIFICATE"))
			figure("waypoint-reconciled", "waypoint", meshNS+"/"+waypoint, "replicas", 2,
				"deploymentCreatedAfter", created.Round(time.Millisecond), "readyAfter", readyAt.Round(time.Millisecond),
				"pods", pods.Items[0].Name+","+pods.Items[1].Name)
		})

		It("issues a SPIFFE certificate to a workload pod that finds the CA by its Service name and presents its projected token", func() {
			apply(`apiVersion: v1
kind: ServiceAccount
metadata: {name: echo}
`, "-n", meshNS)
			start := time.Now()
			logs := runPod(testPod(meshNS, "cert", "cert",
				"-ca-url="+caURL), 2*time.Minute)
			Expect(logs).To(ContainSubstring("CERT spiffe://cluster.local/ns/" + meshNS + "/sa/echo "))
			figure("ca-issues-workload-cert", "line", strings.TrimSpace(logs), "podRunToDone", time.Since(start).Round(time.Millisecond))
		})
	})

	Context("traffic", func() {
		// Waypoint pods reach the mesh CA by its Service name through the
		// cluster DNS (CoreDNS, hack/cluster/coredns.yaml).
		var echoIP, wpIP string

		It("runs the echo app and accepts the HTTPRoute that splits the echo Service 80/20", func() {
			b, err := os.ReadFile(filepath.Join(repoRoot, "config", "demo", "echo-app.yaml"))
			Expect(err).NotTo(HaveOccurred())
			apply(string(b), "-n", meshNS)
			waitRollout(meshNS, "deployment/echo-a", 2*time.Minute)
			waitRollout(meshNS, "deployment/echo-b", 2*time.Minute)
			echoIP = jsonpath("{.spec.clusterIP}", "-n", meshNS, "service", "echo")
			wpIP = jsonpath("{.spec.clusterIP}", "-n", meshNS, "service", waypoint)
			Expect(echoIP).NotTo(BeEmpty())
			Expect(wpIP).NotTo(BeEmpty())
			Eventually(func() string {
				return jsonpath(`{range .status.parents[*].conditions[*]}{.type}={.status} {end}`, "-n", meshNS, "httproute", "echo-split")
			}).WithTimeout(30 * time.Second).Should(And(ContainSubstring("Accepted=True"), ContainSubstring("ResolvedRefs=True")))
		})

		It("baseline: a load pod sends plain HTTP to the echo Service with zero failed requests", func() {
			const rps, d = 200, 10 * time.Second
			s := parseSummary(runPod(testPod(meshNS, "load-baseline",
				loadArgs("http://"+echoIP+":8080/", rps, d, "", "")...), 2*time.Minute))
			figure("baseline-plain-http", "sent", s.Sent, "failed", s.Failed, "dropped", s.Dropped,
				"p50ms", s.P50Ms, "p99ms", s.P99Ms, "maxms", s.MaxMs, "byPod", s.ByPod)
			Expect(s.Failed).To(BeZero(), "errors: %v", s.ErrorSample)
			Expect(s.Dropped).To(BeZero())
			Expect(s.Sent).To(BeNumerically(">=", rps*int(d/time.Second)*9/10))
		})

		It("a load pod sends HTTP over HBONE to the Waypoint; the HTTPRoute splits 80/20; zero failed requests", func() {
			const rps, d = 200, 20 * time.Second
			s := parseSummary(runPod(testPod(meshNS, "load-hbone", loadArgs("http://"+echoIP+":8080/", rps, d,
				wpIP+":15008", waypointID())...), 2*time.Minute))
			a := 0
			for pod, n := range s.ByPod {
				if strings.HasPrefix(pod, "echo-a-") {
					a += n
				}
			}
			share := float64(a) / float64(max(1, s.Sent-s.Failed))
			figure("hbone-waypoint-split", "sent", s.Sent, "failed", s.Failed, "dropped", s.Dropped,
				"p50ms", s.P50Ms, "p99ms", s.P99Ms, "maxms", s.MaxMs, "shareA", fmt.Sprintf("%.3f", share), "byPod", s.ByPod)
			Expect(s.Failed).To(BeZero(), "errors: %v", s.ErrorSample)
			Expect(s.Dropped).To(BeZero())
			Expect(s.Sent).To(BeNumerically(">=", rps*int(d/time.Second)*9/10))
			Expect(share).To(BeNumerically("~", 0.8, 0.05))
		})

		It("load over HBONE scales the Waypoint out, removing it scales it in, zero failed requests throughout", func() {
			const target, maxReplicas = 50, 4
			applyWaypoint(fmt.Sprintf(`  autoscaling:
    horizontal:
      minReplicas: 1
      maxReplicas: %d
      metric: RequestsPerSecond
      target: %d
      targetUtilizationPercent: 100
      stableWindow: 10s
      panicWindow: 2s
      scaleDown: {stabilizationWindow: 10s, maxPercent: 100, maxPods: 10, period: 2s}
`, maxReplicas, target))
			By("settling at minReplicas before the load")
			Eventually(func() string {
				return jsonpath("{.status.desiredReplicas}/{.status.readyReplicas}/{.status.replicas}", "-n", meshNS, "waypoint", waypoint)
			}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Equal("1/1/1"))

			base := testPod(meshNS, "load-base", loadArgs("http://"+echoIP+":8080/", 20, 100*time.Second, wpIP+":15008", waypointID())...)
			burst := testPod(meshNS, "load-burst", loadArgs("http://"+echoIP+":8080/", 250, 30*time.Second, wpIP+":15008", waypointID())...)
			startPod(base)
			time.Sleep(5 * time.Second)
			startPod(burst)

			type sample struct {
				at                     time.Time
				desired, ready, actual int
			}
			var (
				mu      sync.Mutex
				samples []sample
				last    sample
			)
			stopSampling := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer GinkgoRecover()
				defer close(sampled)
				for {
					var wp meshv1alpha1.Waypoint
					if getJSON(&wp, "-n", meshNS, "waypoint", waypoint) == nil {
						mu.Lock()
						last = sample{time.Now(), int(wp.Status.DesiredReplicas), int(wp.Status.ReadyReplicas), int(wp.Status.Replicas)}
						samples = append(samples, last)
						mu.Unlock()
					}
					select {
					case <-stopSampling:
						return
					case <-time.After(200 * time.Millisecond):
					}
				}
			}()
			current := func() sample { mu.Lock(); defer mu.Unlock(); return last }
			By("scale-out: ready replicas rise under the burst")
			Eventually(func() int { return current().ready }).WithTimeout(90 * time.Second).WithPolling(200 * time.Millisecond).
				Should(BeNumerically(">=", 2))
			bs := parseSummary(waitPod(burst, 2*time.Minute))
			By("scale-in: back to minReplicas while the base load continues")
			Eventually(func() string {
				s := current()
				return fmt.Sprintf("%d/%d/%d", s.desired, s.ready, s.actual)
			}).WithTimeout(3 * time.Minute).WithPolling(200 * time.Millisecond).Should(Equal("1/1/1"))
			scaledIn := time.Now()
			close(stopSampling)
			<-sampled
			base0 := parseSummary(waitPod(base, 3*time.Minute))

			var firstUp, peakAt, peakDesiredAt time.Time
			peak, peakDesired, changes, prev := 0, 0, 0, -1
			for _, s := range samples {
				if firstUp.IsZero() && s.desired > 1 {
					firstUp = s.at
				}
				if s.ready > peak {
					peak, peakAt = s.ready, s.at
				}
				if s.desired > peakDesired {
					peakDesired, peakDesiredAt = s.desired, s.at
				}
				if prev >= 0 && s.desired != prev {
					changes++
				}
				prev = s.desired
			}
			burstEnd := bs.Start.Add(time.Duration(bs.DurationS * float64(time.Second)))
			figure("waypoint-autoscale", "burstSent", bs.Sent, "burstFailed", bs.Failed, "burstDropped", bs.Dropped,
				"burstP99ms", bs.P99Ms, "baseSent", base0.Sent, "baseFailed", base0.Failed, "baseP99ms", base0.P99Ms,
				"reactionToDesired>1", firstUp.Sub(bs.Start).Round(10*time.Millisecond),
				"peakDesired", peakDesired, "peakDesiredAfter", peakDesiredAt.Sub(bs.Start).Round(10*time.Millisecond),
				"peakReady", peak, "peakReadyAfter", peakAt.Sub(bs.Start).Round(10*time.Millisecond), "desiredChanges", changes,
				"scaleInDoneAfterBurstEnd", scaledIn.Sub(burstEnd).Round(100*time.Millisecond))
			Expect(bs.Failed+base0.Failed).To(BeZero(), "errors: %v %v", bs.ErrorSample, base0.ErrorSample)
			Expect(peak).To(BeNumerically(">=", 2))
			Expect(peak).To(BeNumerically("<=", maxReplicas))
			Expect(scaledIn.Before(base0.Start.Add(time.Duration(base0.DurationS*float64(time.Second))))).To(BeTrue(),
				"the scale-in finished after the base load ended, so it was not under load")
		})

		It("a Waypoint version change under load completes with zero failed requests", func() {
			applyWaypoint("  replicas: 2\n  autoscaling: {horizontal: {enabled: false}}\n")
			Eventually(func() string {
				return jsonpath("{.status.readyReplicas}/{.status.replicas}/{.status.version}", "-n", meshNS, "waypoint", waypoint)
			}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Equal("2/2/" + version))
			load := testPod(meshNS, "load-upgrade", loadArgs("http://"+echoIP+":8080/", 100, 80*time.Second, wpIP+":15008", waypointID())...)
			startPod(load)
			time.Sleep(5 * time.Second)
			start := time.Now()
			applyWaypointVersion(nextVersion, "  replicas: 2\n  autoscaling: {horizontal: {enabled: false}}\n")
			newImage := imageRepo + "/waypoint:" + nextVersion
			Eventually(func() string {
				return jsonpath("{.spec.template.spec.containers[0].image}", "-n", meshNS, "deployment", waypoint)
			}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Equal(newImage))
			waitRollout(meshNS, "deployment/"+waypoint, 3*time.Minute)
			rolled := time.Since(start)
			Eventually(func() string {
				var wp meshv1alpha1.Waypoint
				_ = getJSON(&wp, "-n", meshNS, "waypoint", waypoint)
				return fmt.Sprintf("%v/%d/%d/%s", wp.Status.ObservedGeneration == wp.Generation, wp.Status.UpdatedReplicas, wp.Status.ReadyReplicas, wp.Status.Version)
			}).WithTimeout(time.Minute).WithPolling(250 * time.Millisecond).Should(Equal("true/2/2/" + nextVersion))
			By("old pods drain and exit")
			Eventually(func() []string {
				var pods corev1.PodList
				_ = getJSON(&pods, "-n", meshNS, "pods", "-l", "mesh.wayfabric.io/waypoint="+waypoint)
				var old []string
				for _, p := range pods.Items {
					if p.Spec.Containers[0].Image != newImage {
						old = append(old, p.Name)
					}
				}
				return old
			}).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(BeEmpty())
			oldGone := time.Since(start)
			s := parseSummary(waitPod(load, 3*time.Minute))
			figure("waypoint-version-change", "from", version, "to", nextVersion, "rolloutDone", rolled.Round(100*time.Millisecond), "oldPodsGone", oldGone.Round(100*time.Millisecond),
				"sent", s.Sent, "failed", s.Failed, "dropped", s.Dropped, "p99ms", s.P99Ms, "maxms", s.MaxMs, "byPod", s.ByPod)
			Expect(s.Failed).To(BeZero(), "errors: %v", s.ErrorSample)
			Expect(s.Dropped).To(BeZero())
			Expect(start.Add(oldGone).Before(s.Start.Add(time.Duration(s.DurationS*float64(time.Second))))).To(BeTrue(),
				"the old pods exited after the load ended, so the drain was not under load")
		})

		It("InPlace vertical autoscaling resizes the running waypoint pods under load: same pods, no restart, zero failed requests", func() {
			// Requests far below what the load costs, so the recommender's lower
			// bound passes them within a minute or two of history.
			const spec = `  replicas: 2
  resources:
    requests: {cpu: 1m, memory: 4Mi}
    limits: {memory: 256Mi}
  autoscaling:
    horizontal: {enabled: false}
    vertical:
      mode: InPlace
      minAllowed: {cpu: 1m, memory: 4Mi}
      maxAllowed: {cpu: 500m, memory: 256Mi}
      minInterval: 1m
`
			applyWaypointVersion(nextVersion, spec)
			waitRollout(meshNS, "deployment/"+waypoint, 3*time.Minute)
			type podState struct {
				uid                  string
				restarts             int32
				specCPU, specMemory  string
				actualCPU, actualMem string
				resizing             bool
			}
			podStates := func() map[string]podState {
				var pods corev1.PodList
				Expect(getJSON(&pods, "-n", meshNS, "pods", "-l", "mesh.wayfabric.io/waypoint="+waypoint)).To(Succeed())
				out := map[string]podState{}
				for _, p := range pods.Items {
					if p.DeletionTimestamp != nil || len(p.Status.ContainerStatuses) == 0 {
						continue
					}
					req, cs := p.Spec.Containers[0].Resources.Requests, p.Status.ContainerStatuses[0]
					st := podState{uid: string(p.UID), restarts: cs.RestartCount, specCPU: req.Cpu().String(), specMemory: req.Memory().String()}
					if cs.Resources != nil {
						st.actualCPU, st.actualMem = cs.Resources.Requests.Cpu().String(), cs.Resources.Requests.Memory().String()
					}
					for _, c := range p.Status.Conditions {
						st.resizing = st.resizing || c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress
					}
					out[p.Name] = st
				}
				return out
			}
			var before map[string]podState
			Eventually(func() int { before = podStates(); return len(before) }).
				WithTimeout(2*time.Minute).WithPolling(500*time.Millisecond).Should(Equal(2), "old pods still draining")
			for name, st := range before {
				Expect(st.specCPU).To(Equal("1m"), name)
			}

			// The load outlasts the resize deadline, so a late resize still
			// happens under load.
			const resizeTimeout = 2 * time.Minute
			load := testPod(meshNS, "load-resize", loadArgs("http://"+echoIP+":8080/", 200, resizeTimeout+30*time.Second, wpIP+":15008", waypointID())...)
			startPod(load)
			start := time.Now()
			By("both pods are resized in place: spec and the kubelet's actual requests agree, above the 1m/4Mi start")
			var after map[string]podState
			Eventually(func() bool {
				after = podStates()
				if len(after) != 2 {
					return false
				}
				for _, st := range after {
					if st.specCPU == "1m" || st.resizing || st.actualCPU != st.specCPU || st.actualMem != st.specMemory {
						return false
					}
				}
				return true
			}).WithTimeout(resizeTimeout).WithPolling(time.Second).Should(BeTrue(), func() string { return fmt.Sprintf("pods: %+v", after) })
			resizedAfter := time.Since(start)
			for name, st := range after {
				Expect(before).To(HaveKey(name), "pod %s was replaced, not resized", name)
				Expect(st.uid).To(Equal(before[name].uid))
				Expect(st.restarts).To(BeZero(), "pod %s restarted", name)
			}
			By("the autoscaler reports the finished run as a Resized event")
			Eventually(func() string {
				return jsonpath("{range .items[*]}{.reason} {end}", "-n", meshNS, "events",
					"--field-selector", "involvedObject.kind=Waypoint,involvedObject.name="+waypoint)
			}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(ContainSubstring("Resized"))
			s := parseSummary(waitPod(load, 3*time.Minute))
			var sample podState
			for _, st := range after {
				sample = st
			}
			figure("waypoint-inplace-resize", "from", "1m/4Mi", "to", sample.specCPU+"/"+sample.specMemory,
				"resizedAfterLoadStart", resizedAfter.Round(time.Second), "podsReplaced", 0, "restarts", 0,
				"sent", s.Sent, "failed", s.Failed, "dropped", s.Dropped, "p99ms", s.P99Ms, "maxms", s.MaxMs)
			Expect(s.Failed).To(BeZero(), "errors: %v", s.ErrorSample)
			Expect(s.Dropped).To(BeZero())
		})
	})

	Context("make run's demo (config/demo)", func() {
		It("is a transparent mesh: plain HTTP clients reach the echo app through the ztunnel and the autoscaled Waypoint, split 80/20, with zero failed requests", func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			By("applying the ZtunnelConfig sample with the cluster's CNI dirs, as make run does")
			name := applyZtunnelSample()
			DeferCleanup(func() {
				// The demo goes first, then the ztunnel, whose pods must be gone
				// before the ztunnel scenarios deploy their own.
				_, _ = kubectl("delete", "namespace", "demo", "--wait=true", "--timeout=2m")
				_, _ = kubectl("delete", "ztunnelconfig", name, "--wait=true", "--timeout=2m")
				Eventually(func() string {
					return jsonpath("{.items[*].metadata.name}", "-n", operatorNS, "pods", "-l", "mesh.wayfabric.io/ztunnel-config="+name)
				}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(BeEmpty())
			})
			mustKubectl("wait", "--for=condition=Ready", "ztunnelconfig/"+name, "--timeout=3m")

			manifests, err := run(ctx, "", "go", "tool", "kustomize", "build", filepath.Join(repoRoot, "config", "demo"))
			Expect(err).NotTo(HaveOccurred())
			apply(manifests)
			for _, d := range []string{"echo-a", "echo-b", "load"} {
				waitRollout("demo", "deployment/"+d, 3*time.Minute)
			}
			By("the ztunnel captured the demo's pods (echo-a, echo-b, load), as its ZtunnelConfig's status says")
			Eventually(func() string {
				return jsonpath("{.status.capturedPods}", "ztunnelconfig", name)
			}).WithTimeout(time.Minute).WithPolling(time.Second).Should(SatisfyAny(Equal("3"), Equal("4"), Equal("5"), Equal("6")))
			By("once every backend is ready, the clients log PROGRESS lines without new failures, split about 80/20, and the Waypoint sees their load")
			// Requests sent while echo-b had no ready endpoint yet get the
			// route's 503 for its share (Gateway API); from the first full
			// interval after both Deployments are ready, none may fail.
			ready := time.Now()
			failedAt := func(line string) int {
				var sent, failed int
				_, _ = fmt.Sscanf(line, "PROGRESS sent=%d failed=%d", &sent, &failed)
				return failed
			}
			var progress string
			var since []string
			Eventually(func() int {
				out, _ := kubectl("-n", "demo", "logs", "deployment/load", "--since-time="+ready.UTC().Format(time.RFC3339))
				since = since[:0]
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "PROGRESS ") {
						since = append(since, l)
					}
				}
				return len(since)
			}).WithTimeout(time.Minute).WithPolling(time.Second).Should(BeNumerically(">=", 2))
			progress = since[len(since)-1]
			if failedAt(progress) != failedAt(since[len(since)-2]) {
				logs, _ := kubectl("-n", "demo", "logs", "deployment/load", "--tail=40")
				events, _ := kubectl("-n", "demo", "get", "events", "--sort-by=.lastTimestamp")
				Fail(fmt.Sprintf("the demo's clients saw failures with every backend ready:\n%s\nevents:\n%s\nztunnel:\n%s", logs, events, ztunnelLogsOf(name, 40)))
			}
			Expect(progress).To(MatchRegexp(`byPod:\{echo-a-\S+:\d+\((6[5-9]|[7-8]\d|9[0-5])%\) echo-b-\S+:\d+\(`), "the HTTPRoute's 80/20 split")
			Eventually(func() string {
				return jsonpath("{.status.load.requestsPerSecond}", "-n", "demo", "waypoint", "waypoint")
			}).WithTimeout(time.Minute).WithPolling(time.Second).Should(SatisfyAll(Not(BeEmpty()), Not(Equal("0"))))
			var restarts []int32
			var pods corev1.PodList
			Expect(getJSON(&pods, "-n", "demo", "pods", "-l", "app=load")).To(Succeed())
			for _, p := range pods.Items {
				restarts = append(restarts, p.Status.ContainerStatuses[0].RestartCount)
			}
			Expect(restarts).To(HaveEach(BeZero()), "the demo's clients restarted")
			figure("make-run-demo", "applyToLoadSeen", time.Since(start).Round(time.Second),
				"waypointRPS", jsonpath("{.status.load.requestsPerSecond}", "-n", "demo", "waypoint", "waypoint"),
				"capturedPods", jsonpath("{.status.capturedPods}", "ztunnelconfig", name),
				"lastProgress", strings.TrimSpace(progress))
		})
	})

	Context("ztunnel", ztunnelSpecs)

	Context("scale on kwok fake nodes", func() {
		var kwokNodes int
		BeforeAll(func() {
			var nodes corev1.NodeList
			Expect(getJSON(&nodes, "nodes", "-l", "type=kwok")).To(Succeed())
			kwokNodes = len(nodes.Items)
			if kwokNodes == 0 {
				Skip("no kwok fake nodes: start the cluster with WAYFABRIC_CLUSTER_KWOK_NODES=100 (hack/e2e/run.sh does)")
			}
		})

		It("many Waypoints placed on the fake nodes converge", func() {
			const namespaces, perNS, replicas = 10, 10, 2
			var b strings.Builder
			for i := range namespaces {
				ns := fmt.Sprintf("e2e-scale-%d", i)
				fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n", ns)
				for j := range perNS {
					fmt.Fprintf(&b, `apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: wp-%d, namespace: %s}
spec:
  for: service
  version: %s
  replicas: %d
  autoscaling: {horizontal: {enabled: false}}
  nodeSelector: {type: kwok}
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
---
`, j, ns, version, replicas)
				}
			}
			DeferCleanup(func() {
				for i := range namespaces {
					_, _ = kubectl("delete", "namespace", fmt.Sprintf("e2e-scale-%d", i), "--wait=false")
				}
			})
			start := time.Now()
			apply(b.String())
			applied := time.Since(start)
			want := namespaces * perNS
			converged := func() (int, int) {
				var list meshv1alpha1.WaypointList
				if err := getJSON(&list, "waypoints", "-A"); err != nil {
					return 0, 0
				}
				ready, pods := 0, 0
				for _, wp := range list.Items {
					if strings.HasPrefix(wp.Namespace, "e2e-scale-") && wp.Status.ReadyReplicas == replicas &&
						wp.Status.ObservedGeneration == wp.Generation {
						ready++
						pods += int(wp.Status.ReadyReplicas)
					}
				}
				return ready, pods
			}
			Eventually(func() int { n, _ := converged(); return n }).
				WithTimeout(5 * time.Minute).WithPolling(time.Second).Should(Equal(want))
			took := time.Since(start)
			_, pods := converged()
			var podList corev1.PodList
			Expect(getJSON(&podList, "pods", "-A", "-l", "app.kubernetes.io/name=waypoint", "--field-selector=status.phase=Running")).To(Succeed())
			used := map[string]bool{}
			nodesOf := map[string]map[string]bool{} // Waypoint -> the nodes of its pods
			for _, p := range podList.Items {
				if strings.HasPrefix(p.Namespace, "e2e-scale-") {
					Expect(p.Spec.NodeName).To(HavePrefix("kwok-node-"))
					used[p.Spec.NodeName] = true
					wp := p.Namespace + "/" + p.Labels["mesh.wayfabric.io/waypoint"]
					if nodesOf[wp] == nil {
						nodesOf[wp] = map[string]bool{}
					}
					nodesOf[wp][p.Spec.NodeName] = true
				}
			}
			var sharing []string
			for wp, nodes := range nodesOf {
				if len(nodes) < replicas {
					sharing = append(sharing, wp)
				}
			}
			figure("kwok-waypoints-converge", "waypoints", want, "readyPods", pods, "kwokNodes", kwokNodes,
				"nodesUsed", len(used), "waypointsWithReplicasSharingANode", len(sharing),
				"applyTook", applied.Round(time.Millisecond), "allReadyAfter", took.Round(time.Millisecond))
			if kwokNodes >= replicas {
				By("the default spread puts each Waypoint's replicas on different nodes (the fake nodes have no zone label)")
				Expect(sharing).To(BeEmpty(), "Waypoints whose replicas share a node")
			}
		})

		It("a ZtunnelConfig's DaemonSet converges on every fake node (no container runs there)", func() {
			DeferCleanup(func() { _, _ = kubectl("delete", "ztunnelconfig", "e2e-kwok", "--wait=false") })
			start := time.Now()
			apply(fmt.Sprintf(`apiVersion: mesh.wayfabric.io/v1alpha1
kind: ZtunnelConfig
metadata: {name: e2e-kwok}
spec:
  version: %s
  nodeSelector: {type: kwok}
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
`, version))
			want := fmt.Sprint(kwokNodes)
			Eventually(func() string {
				return jsonpath("{.status.desiredNodes}/{.status.readyNodes}/{.status.updatedNodes}", "ztunnelconfig", "e2e-kwok")
			}).WithTimeout(5 * time.Minute).WithPolling(time.Second).Should(Equal(want + "/" + want + "/" + want))
			figure("kwok-ztunnel-daemonset-converges", "nodes", kwokNodes, "allReadyAfter", time.Since(start).Round(time.Millisecond))
		})
	})
})

// waypointID is the SPIFFE identity of the traffic scenarios' waypoint.
func waypointID() string { return "spiffe://cluster.local/ns/" + meshNS + "/sa/" + waypoint }

// applyWaypoint applies the traffic scenarios' Waypoint at version with the
// extra spec lines (indented two spaces) replacing the previous ones.
func applyWaypoint(extra string) { GinkgoHelper(); applyWaypointVersion(version, extra) }

func applyWaypointVersion(v, extra string) {
	GinkgoHelper()
	apply(fmt.Sprintf(`apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: %s, namespace: %s}
spec:
  for: service
  version: %s
%s`, waypoint, meshNS, v, extra))
}
