package discovery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestMemoryAt1000PodsAnd1000Services measures what the node proxy's view
// of the cluster costs: the watcher's heap with 1,000 pods, 1,000 Services
// and their EndpointSlices on a real API server, against informers that
// keep the full objects (the baseline, same run). Run it with
// `make bench-ztunnel-memory` (WAYFABRIC_BENCH_ZTUNNEL=1).
func TestMemoryAt1000PodsAnd1000Services(t *testing.T) {
	if os.Getenv("WAYFABRIC_BENCH_ZTUNNEL") == "" {
		t.Skip("a measurement, not a test: run `make bench-ztunnel-memory`")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set (make bench-ztunnel-memory sets it)")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	env.ControlPlane.GetAPIServer().StartTimeout = 2 * time.Minute
	// envtest's default /24 holds 254 Services.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	cfg.QPS, cfg.Burst = 500, 1000
	kube := kubernetes.NewForConfigOrDie(cfg)
	const n, perNS = 1000, 50
	start := time.Now()
	seedScale(t, kube, n, perNS)
	t.Logf("seeded %d pods, %d services, %d slices in %d namespaces in %v", n, n, n, n/perNS, time.Since(start).Round(time.Millisecond))

	slim := measureHeap(t, func(ctx context.Context) func() int {
		w := &Watcher{Kube: kubernetes.NewForConfigOrDie(cfg), Dynamic: dynamic.NewForConfigOrDie(cfg)}
		go func() { _ = w.Run(ctx) }()
		<-w.Synced()
		return func() int { return len(w.Snapshot().byUID) }
	})
	full := measureHeap(t, func(ctx context.Context) func() int {
		return fullInformers(ctx, cfg)
	})
	ratio := float64(slim) / float64(full)
	t.Logf("FIGURE ztunnel-discovery-memory: pods=%d services=%d slimHeapMB=%.1f fullObjectsHeapMB=%.1f ratio=%.2f",
		n, n, float64(slim)/(1<<20), float64(full)/(1<<20), ratio)
	fmt.Printf("| discovery heap, %d pods + %d Services + slices | %.1f MB | %.1f MB (informers keeping full objects) | %.2f× |\n",
		n, n, float64(slim)/(1<<20), float64(full)/(1<<20), ratio)
}

// measureHeap returns the live heap a view adds, once it holds every pod.
func measureHeap(t *testing.T, start func(ctx context.Context) func() int) uint64 {
	t.Helper()
	before := liveHeap()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	count := start(ctx)
	deadline := time.Now().Add(time.Minute)
	for count() < 1000 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a last debounced rebuild settles
	after := liveHeap()
	runtime.KeepAlive(count)
	if after < before {
		return 0
	}
	return after - before
}

func liveHeap() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fullInformers watches the same kinds without transforms.
func fullInformers(ctx context.Context, cfg *rest.Config) func() int {
	kf := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(cfg), 0)
	pods := kf.Core().V1().Pods().Informer()
	// Asking for an informer registers it with the factory.
	kf.Core().V1().Services().Informer()
	kf.Discovery().V1().EndpointSlices().Informer()
	kf.Core().V1().Namespaces().Informer()
	kf.Start(ctx.Done())
	kf.WaitForCacheSync(ctx.Done())
	return func() int { return len(pods.GetStore().List()) }
}

// seedScale creates n pods (with realistic specs and statuses), n
// Services and n EndpointSlices across n/perNS namespaces.
func seedScale(t *testing.T, kube kubernetes.Interface, n, perNS int) {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns-%d", i/perNS)
		if i%perNS == 0 {
			if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
				Labels: map[string]string{"mesh.wayfabric.io/dataplane-mode": "ambient"}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		name := fmt.Sprintf("app-%d", i)
		ip := fmt.Sprintf("10.%d.%d.%d", 100+i/65536, (i/256)%256, i%256)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name, "version": "v1",
				"pod-template-hash": "5d8f9c7b6"}, Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z"}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%20), ServiceAccountName: "app",
				Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/team/app:1.2.3",
					Args:      []string{"--port=8080", "--log-level=info"},
					Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					Env:       []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "REGION", Value: "eu-west-1"}},
					Resources: corev1.ResourceRequirements{},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/healthz", Port: intstr.FromInt32(8080)}}}}}},
		}
		created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := kube.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name + "-x1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8080))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
				NodeName: new(pod.Spec.NodeName), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
