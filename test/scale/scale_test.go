package scale

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
)

const version = "v0.1.0"

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestOperatorScale runs the baseline and the full fleet, each on a fresh
// control plane with a fresh manager process, and prints one line per run
// and their ratios.
func TestOperatorScale(t *testing.T) {
	if os.Getenv("WAYFABRIC_BENCH_OPERATOR") != "1" {
		t.Skip("set WAYFABRIC_BENCH_OPERATOR=1 (make bench-operator) to run the 1,000-Waypoint scale test")
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	n := envInt("SCALE_WAYPOINTS", 1000)
	namespaces := envInt("SCALE_NAMESPACES", 50)
	baseline := envInt("SCALE_BASELINE_WAYPOINTS", n/10)

	base := runFleet(t, baseline, max(1, namespaces*baseline/n))
	full := runFleet(t, n, namespaces)
	for _, r := range []result{base, full} {
		t.Log(r)
	}
	t.Logf("ratio %d/%d Waypoints (x%.0f): converge x%.2f, manager CPU x%.2f, control-plane CPU x%.2f, manager peak RSS x%.2f, peak heap x%.2f",
		n, baseline, float64(n)/float64(baseline), full.converged.Seconds()/base.converged.Seconds(),
		float64(full.manager.CPUMillis)/float64(base.manager.CPUMillis), float64(full.controlPlaneTicks)/float64(base.controlPlaneTicks),
		float64(full.manager.PeakRSSBytes)/float64(base.manager.PeakRSSBytes), float64(full.manager.PeakHeap)/float64(base.manager.PeakHeap))
	if limit := envInt("SCALE_MAX_SECONDS", 0); limit > 0 && full.converged > time.Duration(limit)*time.Second {
		t.Errorf("%d Waypoints took %v to converge, over the %ds budget", n, full.converged, limit)
	}
}

type result struct {
	waypoints, namespaces int
	created               time.Duration // all Waypoints accepted by the API server
	deployments           time.Duration // all Deployments exist
	converged             time.Duration // all statuses correct
	controlPlaneTicks     int64         // kube-apiserver + etcd CPU during the run (1/100 s)
	manager               managerReport
}

func (r result) String() string {
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	return fmt.Sprintf("%5d Waypoints / %2d namespaces: created %5.2fs, all Deployments %6.2fs, converged %6.2fs (%.0f Waypoints/s) | "+
		"manager: %d writes (%.2f/Waypoint), CPU %.2fs (%.1f ms/Waypoint), peak RSS %s, peak heap %s | "+
		"kube-apiserver+etcd CPU %.1fs (%.1f ms/Waypoint)",
		r.waypoints, r.namespaces, r.created.Seconds(), r.deployments.Seconds(), r.converged.Seconds(),
		float64(r.waypoints)/r.converged.Seconds(),
		r.manager.Writes, float64(r.manager.Writes)/float64(r.waypoints),
		float64(r.manager.CPUMillis)/1000, float64(r.manager.CPUMillis)/float64(r.waypoints),
		mib(uint64(r.manager.PeakRSSBytes)), mib(r.manager.PeakHeap),
		float64(r.controlPlaneTicks)/100, float64(r.controlPlaneTicks)*10/float64(r.waypoints))
}

func runFleet(t *testing.T, n, namespaces int) result {
	t.Helper()
	res := result{waypoints: n, namespaces: namespaces}
	cp, err := startControlPlane(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cp.stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	}()
	ctx := context.Background()
	for _, ns := range append(namespaceNames(namespaces), "wayfabric-system") {
		if err := cp.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	mgr := startManager(t, cp.kubeconfig)
	time.Sleep(2 * time.Second) // let its informers sync: startup is not what we measure

	ticks0 := cpuTicks("kube-apiserver", "etcd")
	start := time.Now()
	createAll(t, cp.client, n, namespaces)
	res.created = time.Since(start)
	deadline := start.Add(10 * time.Minute)
	for res.converged == 0 {
		if time.Now().After(deadline) {
			mgr.stop(t)
			t.Fatalf("%d Waypoints did not converge in 10 minutes", n)
		}
		time.Sleep(250 * time.Millisecond)
		deploys, ok := converged(t, cp.client, n)
		if res.deployments == 0 && deploys >= n {
			res.deployments = time.Since(start)
		}
		if ok {
			res.converged = time.Since(start)
		}
	}
	res.controlPlaneTicks = cpuTicks("kube-apiserver", "etcd") - ticks0
	res.manager = mgr.stop(t)
	return res
}

func namespaceNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("scale-%02d", i)
	}
	return out
}

// createAll creates n Waypoints round-robin over the namespaces, as a
// GitOps tool applying a large repository would, 16 at a time.
func createAll(t *testing.T, c client.Client, n, namespaces int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, 16)
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				wp := &meshv1alpha1.Waypoint{
					ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("scale-%02d", i%namespaces), Name: fmt.Sprintf("wp-%04d", i)},
					Spec:       meshv1alpha1.WaypointSpec{Replicas: new(int32(1 + int32(i%3)))},
				}
				if err := c.Create(context.Background(), wp); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// converged returns how many waypoint Deployments exist and whether every
// Waypoint's status is what the reconciler must write. Deployments are
// listed as metadata only, to keep the driver's load on the API server low.
func converged(t *testing.T, c client.Client, n int) (int, bool) {
	t.Helper()
	ctx := context.Background()
	deploys := &metav1.PartialObjectMetadataList{}
	deploys.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("DeploymentList"))
	if err := c.List(ctx, deploys, client.MatchingLabels{"app.kubernetes.io/name": "waypoint"}); err != nil {
		t.Fatal(err)
	}
	if len(deploys.Items) < n {
		return len(deploys.Items), false
	}
	var wps meshv1alpha1.WaypointList
	if err := c.List(ctx, &wps); err != nil {
		t.Fatal(err)
	}
	for i := range wps.Items {
		wp := &wps.Items[i]
		if wp.Status.ObservedGeneration != wp.Generation || wp.Status.Version != version ||
			wp.Status.Selector != waypoint.Selector(wp) || wp.Status.DesiredReplicas != *wp.Spec.Replicas ||
			!conditionIs(wp, meshv1alpha1.ConditionDegraded, metav1.ConditionFalse) ||
			!conditionIs(wp, meshv1alpha1.ConditionReady, metav1.ConditionFalse) {
			return len(deploys.Items), false
		}
	}
	return len(deploys.Items), len(wps.Items) == n
}

// conditionIs: envtest runs no Deployment controller, so a converged
// Waypoint is not degraded and (no pods) not ready.
func conditionIs(wp *meshv1alpha1.Waypoint, t string, s metav1.ConditionStatus) bool {
	c := meta.FindStatusCondition(wp.Status.Conditions, t)
	return c != nil && c.Status == s && c.ObservedGeneration == wp.Generation
}

// sampleMemory polls the Go heap every 50 ms until stopped.
func sampleMemory() (stop func() (peakHeap, peakSys uint64)) {
	runtime.GC()
	var peakHeap, peakSys atomic.Uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peakHeap.Store(max(peakHeap.Load(), ms.HeapInuse))
			peakSys.Store(max(peakSys.Load(), ms.Sys))
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-finished
		return peakHeap.Load(), peakSys.Load()
	}
}
