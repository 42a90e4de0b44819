package autoscaling_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/internal/testenv"
	"github.com/wayfabric/wayfabric/proxy/waypoint/config/configtest"
)

// Real waypoint processes stand in for two pods at 127.0.0.2 and 127.0.0.3:
// each serves its load report on the same port of its own address, as pods
// do on their pod IPs, so the HTTP collector reaches them unchanged.
var podIPs = []string{"127.0.0.2", "127.0.0.3"}

var (
	statsPortOnce sync.Once
	statsPort     int
)

// realStatsPort finds a port free on every fake pod IP.
func realStatsPort() int {
	statsPortOnce.Do(func() {
		for attempt := 0; attempt < 50 && statsPort == 0; attempt++ {
			l, err := net.Listen("tcp", podIPs[0]+":0")
			if err != nil {
				return
			}
			port := l.Addr().(*net.TCPAddr).Port
			free := true
			for _, ip := range podIPs[1:] {
				l2, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
				if err != nil {
					free = false
					break
				}
				l2.Close()
			}
			l.Close()
			if free {
				statsPort = port
			}
		}
	})
	return statsPort
}

var _ = Describe("Real waypoint processes", Ordered, func() {
	var bin string
	BeforeAll(func() {
		if realStatsPort() == 0 {
			Skip("no port free on 127.0.0.2 and 127.0.0.3")
		}
		bin = filepath.Join(GinkgoT().TempDir(), "waypoint")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/waypoint")
		cmd.Dir = testenv.RepoRoot()
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "building cmd/waypoint:\n%s", out)
	})

	It("shows generated HTTP load in the collector and moves desired replicas", func(ctx context.Context) {
		// A backend that takes 100 ms per request: in-flight requests at
		// the waypoints are then about the number of clients.
		backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(100 * time.Millisecond)
			_, _ = io.WriteString(w, "ok")
		})}
		bl, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = backend.Serve(bl) }()
		DeferCleanup(backend.Close)

		data := startWaypoints(bin, bl.Addr().(*net.TCPAddr).Port)

		ns := newNamespace(ctx)
		source.useHTTP(key(ns, "wp"))
		Expect(k8s.Create(ctx, &meshv1alpha1.Waypoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wp"},
			Spec: meshv1alpha1.WaypointSpec{Autoscaling: &meshv1alpha1.WaypointAutoscaling{Horizontal: horizontalSpec(2, 10)}}})).To(Succeed())
		for i, ip := range podIPs {
			runningPod(ctx, ns, "wp", fmt.Sprintf("wp-%d", i), ip, corev1.ResourceRequirements{})
		}

		By("idle processes report and hold minReplicas")
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.Load).NotTo(BeNil())
			g.Expect(wp.Status.Load.ReportingReplicas).To(Equal(int32(2)))
			g.Expect(wp.Status.Load.MemoryPerReplica).NotTo(BeNil(), "resident memory of the real processes")
			g.Expect(wp.Status.DesiredReplicas).To(Equal(int32(2)))
		}).Should(Succeed())

		By("40 clients through the two waypoints: about 40 in flight, 7 per replica at target")
		const clients = 40
		var sent atomic.Int64
		loadCtx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		DeferCleanup(func() { stopLoad(); wg.Wait() })
		start := time.Now()
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Transport: &http.Transport{Proxy: nil}}
				defer hc.CloseIdleConnections()
				for loadCtx.Err() == nil {
					req, _ := http.NewRequestWithContext(loadCtx, http.MethodGet, "http://"+data[i%len(data)]+"/", nil)
					if resp, err := hc.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						sent.Add(1)
					}
				}
			}()
		}
		var seen *meshv1alpha1.WaypointLoad
		Eventually(func(g Gomega) {
			wp := getWaypoint(ctx, g, ns, "wp")
			g.Expect(wp.Status.DesiredReplicas).To(BeNumerically(">=", 5))
			seen = wp.Status.Load
		}).Should(Succeed())
		reaction := time.Since(start)
		Eventually(func(g Gomega) {
			l := getWaypoint(ctx, g, ns, "wp").Status.Load
			g.Expect(l.Concurrency.AsApproximateFloat64()).To(BeNumerically(">", 20))
			g.Expect(l.RequestsPerSecond).To(BeNumerically(">", 50))
			g.Expect(l.P50Latency.Duration).To(BeNumerically(">=", 100*time.Millisecond))
			seen = l
		}).Should(Succeed())
		wp := getWaypoint(ctx, Default, ns, "wp")
		AddReportEntry("real processes: load start to desiredReplicas >= 5 (wall clock)", reaction.String())
		AddReportEntry("real processes: final status", fmt.Sprintf("desired %d, load %d rps, concurrency %s, p50 %v, p99 %v, cpu/replica %v, mem/replica %v (%d requests sent)",
			wp.Status.DesiredReplicas, seen.RequestsPerSecond, seen.Concurrency, seen.P50Latency.Duration, seen.P99Latency.Duration,
			seen.CPUPerReplica, seen.MemoryPerReplica, sent.Load()))
		GinkgoWriter.Printf("reaction %v; desired %d; load %+v\n", reaction, wp.Status.DesiredReplicas, seen)
		Expect(condition(wp, meshv1alpha1.ConditionScalingActive).Status).To(Equal(metav1.ConditionTrue))
	})
})

// startWaypoints runs one cmd/waypoint process per fake pod IP with a static
// configuration routing Service 10.96.0.10:80 to the backend port, and
// returns their plaintext data addresses. The processes are stopped (by
// PID, SIGTERM then SIGKILL) when the spec ends.
func startWaypoints(bin string, backendPort int) []string {
	cfg := configtest.WriteOneService(GinkgoT(), backendPort)

	var data []string
	for _, ip := range podIPs {
		d, ready := freeAddr(ip), freeAddr(ip)
		cmd := exec.Command(bin, "--namespace=app", "--waypoint-name=wp", "--hbone-addr=", "--static-config="+cfg,
			"--stats-addr="+net.JoinHostPort(ip, strconv.Itoa(realStatsPort())), "--ready-addr="+ready,
			"--plaintext-listener="+d+"=10.96.0.10:80", "--drain-seconds=2", "--drain-accept-seconds=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		Expect(cmd.Start()).To(Succeed())
		DeferCleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
		Eventually(func() int {
			resp, err := http.Get("http://" + ready + "/healthz/ready")
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}, 15*time.Second).Should(Equal(http.StatusOK), "waypoint at %s never ready:\n%s", ip, &stderr)
		data = append(data, d)
	}
	return data
}

func freeAddr(ip string) string {
	l, err := net.Listen("tcp", ip+":0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}
