package scale

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wayfabric/wayfabric/controllers/scheme"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

// The manager runs in its own process (this test binary, re-executed), so
// its peak RSS and CPU time are its own, not the driver's or envtest's.
const managerEnv = "WAYFABRIC_SCALE_MANAGER_KUBECONFIG"

func TestMain(m *testing.M) {
	if kc := os.Getenv(managerEnv); kc != "" {
		os.Exit(runManager(kc))
	}
	os.Exit(m.Run())
}

// managerReport is what the manager process prints when it stops.
type managerReport struct {
	Writes       int64  `json:"writes"`
	PeakHeap     uint64 `json:"peakHeapInuse"`
	CPUMillis    int64  `json:"cpuMillis"`
	PeakRSSBytes int64  `json:"peakRSSBytes"`
}

// runManager runs the Waypoint and ZtunnelConfig reconcilers as cmd/manager
// would until SIGTERM, then prints a managerReport on stdout.
func runManager(kubeconfig string) int {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.QPS, cfg.Burst = -1, 0 // as ctrl.GetConfig
	opts := ctrl.Options{Scheme: scheme.New(),
		Metrics: metricsserver.Options{BindAddress: "0"}, Controller: config.Controller{SkipNameValidation: new(true)}}
	if os.Getenv("SCALE_STRIP_MANAGED_FIELDS") == "1" {
		// What cmd/manager could do: the reconcilers never read managedFields.
		opts.Cache.DefaultTransform = cache.TransformStripManagedFields()
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var writes atomic.Int64
	// The Waypoint controllers as controllers.Setup lists them, writes counted.
	c, rec := countWrites(mgr.GetClient(), &writes), mgr.GetEventRecorder("waypoint-controller")
	if err := errors.Join(
		(&waypoint.Reconciler{Client: c, Recorder: rec, Image: "ghcr.io/wayfabric/waypoint", DefaultVersion: version}).SetupWithManager(mgr),
		(&waypoint.ReaderReconciler{Client: c, Recorder: rec}).SetupWithManager(mgr),
		(&waypoint.TrustBundleReconciler{Client: c}).SetupWithManager(mgr),
	); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := (&ztunnel.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("ztunnel-controller"),
		Image: "ghcr.io/wayfabric/ztunnel", DefaultVersion: version, Namespace: "wayfabric-system"}).SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopSampling := sampleMemory()
	profiled := make(chan struct{})
	if path := os.Getenv("SCALE_HEAP_PROFILE"); path == "" {
		close(profiled)
	} else {
		go func() { // at SIGTERM, while the caches are still full
			defer close(profiled)
			<-ctx.Done()
			if f, err := os.Create(path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}()
	}
	if err := mgr.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-profiled
	peak, _ := stopSampling()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	rep := managerReport{Writes: writes.Load(), PeakHeap: peak,
		CPUMillis:    (ru.Utime.Nano() + ru.Stime.Nano()) / 1e6,
		PeakRSSBytes: ru.Maxrss * 1024} // Linux reports kilobytes
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// managerProcess is a running manager child.
type managerProcess struct {
	cmd *exec.Cmd
	out *bufio.Scanner
}

func startManager(t *testing.T, kubeconfig string) *managerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), managerEnv+"="+kubeconfig)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &managerProcess{cmd: cmd, out: bufio.NewScanner(out)}
}

// stop sends SIGTERM and returns the manager's report.
func (p *managerProcess) stop(t *testing.T) managerReport {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var rep managerReport
	for p.out.Scan() {
		if line := strings.TrimSpace(p.out.Text()); strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				t.Errorf("manager report %q: %v", line, err)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("manager exited: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Error("manager did not stop within 30s of SIGTERM")
	}
	return rep
}

// cpuTicks is the user+system CPU time (in clock ticks, 100/s on Linux) of
// the direct children of this process whose name starts with one of names.
func cpuTicks(names ...string) int64 {
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	var total int64
	for _, e := range entries {
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(raw)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < 0 {
			continue
		}
		comm, f := s[open+1:closing], strings.Fields(s[closing+2:])
		if len(f) < 13 || f[1] != self {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(comm, n) {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				total += u + st
			}
		}
	}
	return total
}
