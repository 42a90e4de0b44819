package discovery

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/go-logr/logr"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

// WaypointResource is the Waypoint API the watcher lists.
var WaypointResource = schema.GroupVersionResource{Group: "mesh.wayfabric.io", Version: "v1alpha1", Resource: "waypoints"}

// Watcher keeps a Snapshot of the cluster current.
type Watcher struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Excluded returns the namespaces never enrolled; read at every rebuild
	// (the node configuration reloads).
	Excluded func() []string
	// RootNamespace holds mesh-wide AuthorizationPolicies (the operator's).
	RootNamespace string
	// Debounce coalesces bursts of changes into one rebuild (default 50 ms).
	Debounce time.Duration
	// OnChange is called with every new snapshot, from one goroutine.
	OnChange func(*Snapshot)
	Log      logr.Logger

	snap    atomic.Pointer[Snapshot]
	changed chan struct{}
	synced  chan struct{}
}

// Snapshot returns the current snapshot (nil before the caches synced).
func (w *Watcher) Snapshot() *Snapshot { return w.snap.Load() }

// Synced is closed once the first snapshot is published.
func (w *Watcher) Synced() <-chan struct{} {
	w.init()
	return w.synced
}

// Poke asks for a rebuild (after a configuration change).
func (w *Watcher) Poke() {
	w.init()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *Watcher) init() {
	if w.changed == nil {
		w.changed = make(chan struct{}, 1)
		w.synced = make(chan struct{})
	}
}

// Run watches the API until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	w.init()
	if w.Debounce <= 0 {
		w.Debounce = 50 * time.Millisecond
	}
	kf := informers.NewSharedInformerFactory(w.Kube, 0)
	pods, svcs := kf.Core().V1().Pods(), kf.Core().V1().Services()
	slices, nss := kf.Discovery().V1().EndpointSlices(), kf.Core().V1().Namespaces()
	df := dynamicinformer.NewDynamicSharedInformerFactory(w.Dynamic, 0)
	wps := df.ForResource(WaypointResource)
	pols := df.ForResource(authz.PolicyResource)

	handler := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { w.Poke() }, UpdateFunc: func(any, any) { w.Poke() }, DeleteFunc: func(any) { w.Poke() },
	}
	for _, x := range []struct {
		inf cache.SharedIndexInformer
		tf  cache.TransformFunc
	}{
		{pods.Informer(), slimPod}, {svcs.Informer(), slimService}, {slices.Informer(), slimSlice},
		{nss.Informer(), slimNamespace}, {wps.Informer(), slimWaypoint}, {pols.Informer(), authz.TypedPolicy},
	} {
		if err := x.inf.SetTransform(x.tf); err != nil {
			return err
		}
		if _, err := x.inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	kf.Start(ctx.Done())
	df.Start(ctx.Done())
	defer kf.Shutdown()
	defer df.Shutdown()
	for typ, ok := range kf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync", typ)
		}
	}
	for typ, ok := range df.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync (is the Waypoint CRD installed?)", typ)
		}
	}
	ls := listers{pods: pods.Lister().List, svcs: svcs.Lister().List, slices: slices.Lister().List,
		nss: nss.Lister().List, wps: wps.Lister().List,
		// The dynamic lister expects unstructured objects; the transform made them typed.
		pols: func(labels.Selector) ([]any, error) { return pols.Informer().GetStore().List(), nil }}
	publish := func() {
		// A bug in building one snapshot must not stop every later one:
		// the data plane keeps the last good view and says why.
		defer func() {
			if r := recover(); r != nil {
				w.Log.Error(fmt.Errorf("%v", r), "building the cluster view panicked; keeping the previous snapshot")
			}
		}()
		in, err := ls.input()
		if err != nil {
			w.Log.Error(err, "reading informer caches; keeping the previous snapshot")
			return
		}
		if w.Excluded != nil {
			in.ExcludedNamespaces = w.Excluded()
		}
		in.RootNamespace = w.RootNamespace
		s := Build(in)
		w.snap.Store(s)
		if w.OnChange != nil {
			w.OnChange(s)
		}
	}
	publish()
	close(w.synced)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.changed:
		}
		t := time.NewTimer(w.Debounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		select {
		case <-w.changed:
		default:
		}
		publish()
	}
}

type listers struct {
	pods   func(labels.Selector) ([]*corev1.Pod, error)
	svcs   func(labels.Selector) ([]*corev1.Service, error)
	slices func(labels.Selector) ([]*discoveryv1.EndpointSlice, error)
	nss    func(labels.Selector) ([]*corev1.Namespace, error)
	wps    func(labels.Selector) ([]runtime.Object, error)
	pols   func(labels.Selector) ([]any, error)
}

func (l listers) input() (Input, error) {
	all := labels.Everything()
	var in Input
	pods, err := l.pods(all)
	if err != nil {
		return in, err
	}
	in.Workloads = make([]*Workload, 0, len(pods))
	for _, p := range pods {
		in.Workloads = append(in.Workloads, toWorkload(p))
	}
	svcs, err := l.svcs(all)
	if err != nil {
		return in, err
	}
	in.Services = make([]*Service, 0, len(svcs))
	for _, s := range svcs {
		in.Services = append(in.Services, toService(s))
	}
	slices, err := l.slices(all)
	if err != nil {
		return in, err
	}
	in.Endpoints = make(map[types.NamespacedName][]Endpoint, len(svcs))
	for _, es := range slices {
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := types.NamespacedName{Namespace: es.Namespace, Name: svc}
		in.Endpoints[k] = append(in.Endpoints[k], toEndpoints(es)...)
	}
	nss, err := l.nss(all)
	if err != nil {
		return in, err
	}
	in.Namespaces = make(map[string]map[string]string, len(nss))
	for _, ns := range nss {
		in.Namespaces[ns.Name] = ns.Labels
	}
	wps, err := l.wps(all)
	if err != nil {
		return in, err
	}
	for _, o := range wps {
		if u, ok := o.(*unstructured.Unstructured); ok {
			in.Waypoints = append(in.Waypoints, toWaypoint(u))
		}
	}
	pols, err := l.pols(all)
	if err != nil {
		return in, err
	}
	for _, o := range pols {
		if p, ok := o.(*meshv1alpha1.AuthorizationPolicy); ok {
			in.Policies = append(in.Policies, p)
		}
	}
	return in, nil
}
