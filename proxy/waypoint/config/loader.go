// Package config feeds the waypoint from the Kubernetes API: informers for
// HTTPRoutes, ReferenceGrants, Services, EndpointSlices, Namespaces and Pods
// (service accounts only) are compiled into a routing.Table and handed to
// the proxy, which swaps it atomically. A bad route is skipped by the
// compiler; nothing here blocks other routes or stops the data plane. Without
// the Gateway API CRDs the waypoint serves Services with no routes and starts
// watching routes once the CRDs are installed.
package config

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// Loader watches the API and publishes compiled tables.
type Loader struct {
	Waypoint routing.Waypoint
	Kube     kubernetes.Interface
	Gateway  gwclient.Interface
	// Apply receives every new table (e.g. Proxy.SetTable). It must not block.
	Apply func(*routing.Table)
	// Debounce coalesces bursts of changes (default 100 ms).
	Debounce time.Duration
	// GatewayAPIPoll is how often to look for the Gateway API CRDs while
	// they are not installed (default 30 s).
	GatewayAPIPoll time.Duration
	Log            logr.Logger
}

// Run starts the informers, publishes the first table once caches are
// synced, and then a new one after every burst of changes, until ctx ends.
func (l *Loader) Run(ctx context.Context) error {
	if l.Debounce <= 0 {
		l.Debounce = 100 * time.Millisecond
	}
	if l.Log.GetSink() == nil {
		l.Log = logr.Discard()
	}
	if l.GatewayAPIPoll <= 0 {
		l.GatewayAPIPoll = 30 * time.Second
	}
	kf := informers.NewSharedInformerFactory(l.Kube, 0)
	svcs := kf.Core().V1().Services()
	slices := kf.Discovery().V1().EndpointSlices()
	nss := kf.Core().V1().Namespaces()
	pods := kf.Core().V1().Pods()
	// Keep only what identity needs from Pods: a cluster's pods are the
	// largest watched set, and the waypoint must stay small.
	if err := pods.Informer().SetTransform(slimPod); err != nil {
		return err
	}

	changed := make(chan struct{}, 1)
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke(changed) },
		UpdateFunc: func(any, any) { poke(changed) },
		DeleteFunc: func(any) { poke(changed) },
	}
	for _, inf := range []cache.SharedIndexInformer{svcs.Informer(), slices.Informer(), nss.Informer(), pods.Informer()} {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return err
		}
	}
	kf.Start(ctx.Done())
	defer kf.Shutdown()
	for typ, ok := range kf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync", typ)
		}
	}

	// Routes and grants come from the Gateway API, which may be installed
	// later than the waypoint: until then the table has no routes.
	var gw atomic.Pointer[gatewayListers]
	gw.Store(&gatewayListers{route: noObjects[*gwv1.HTTPRoute], grant: noObjects[*gwv1.ReferenceGrant]})
	watchGateway := func() error {
		gl, err := l.startGatewayInformers(ctx, notify)
		if err != nil {
			return err
		}
		gw.Store(gl)
		poke(changed)
		return nil
	}
	if served, err := gatewayAPIServed(l.Kube.Discovery()); served {
		if err := watchGateway(); err != nil {
			return err
		}
	} else {
		l.Log.Info("Gateway API CRDs not installed: serving Services without HTTPRoutes; will watch routes once they are",
			"lookupError", errString(err), "poll", l.GatewayAPIPoll)
		go l.awaitGatewayAPI(ctx, watchGateway)
	}

	listers := listerSet{
		svc: svcs.Lister().List, slice: slices.Lister().List, ns: nss.Lister().List, pod: pods.Lister().List,
		route: func(s labels.Selector) ([]*gwv1.HTTPRoute, error) { return gw.Load().route(s) },
		grant: func(s labels.Selector) ([]*gwv1.ReferenceGrant, error) { return gw.Load().grant(s) },
	}
	var lastSkipped map[routing.Skipped]bool
	publish := func() {
		in, err := listers.input(l.Waypoint)
		if err != nil {
			// Listers read a local cache; an error here keeps the last good table.
			l.Log.Error(err, "reading informer caches; keeping the previous table")
			return
		}
		t := routing.Compile(in)
		lastSkipped = l.logSkipped(t.Skipped, lastSkipped)
		l.Apply(t)
		l.Log.V(1).Info("routing table updated", "destinations", t.Destinations(), "skipped", len(t.Skipped))
	}
	publish()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		// Debounce: one compile per burst (rollouts change many slices at once).
		timer := time.NewTimer(l.Debounce)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		select {
		case <-changed:
		default:
		}
		publish()
	}
}

type gatewayListers struct {
	route func(labels.Selector) ([]*gwv1.HTTPRoute, error)
	grant func(labels.Selector) ([]*gwv1.ReferenceGrant, error)
}

func noObjects[T any](labels.Selector) ([]T, error) { return nil, nil }

// startGatewayInformers watches HTTPRoutes and ReferenceGrants until ctx
// ends and returns their listers once synced.
func (l *Loader) startGatewayInformers(ctx context.Context, notify cache.ResourceEventHandler) (*gatewayListers, error) {
	gf := gwinformers.NewSharedInformerFactory(l.Gateway, 0)
	routes := gf.Gateway().V1().HTTPRoutes()
	grants := gf.Gateway().V1().ReferenceGrants()
	for _, inf := range []cache.SharedIndexInformer{routes.Informer(), grants.Informer()} {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return nil, err
		}
	}
	gf.Start(ctx.Done())
	context.AfterFunc(ctx, gf.Shutdown)
	for typ, ok := range gf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("cache for %v did not sync", typ)
		}
	}
	return &gatewayListers{route: routes.Lister().List, grant: grants.Lister().List}, nil
}

// awaitGatewayAPI polls discovery until the Gateway API is served, then
// starts watching it.
func (l *Loader) awaitGatewayAPI(ctx context.Context, watch func() error) {
	t := time.NewTicker(l.GatewayAPIPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if served, _ := gatewayAPIServed(l.Kube.Discovery()); !served {
			continue
		}
		l.Log.Info("Gateway API CRDs installed: watching HTTPRoutes and ReferenceGrants")
		if err := watch(); err != nil && ctx.Err() == nil {
			l.Log.Error(err, "watching the Gateway API; HTTPRoutes stay unapplied")
		}
		return
	}
}

// gatewayAPIServed reports whether the API server serves the HTTPRoutes and
// ReferenceGrants of gateway.networking.k8s.io/v1.
func gatewayAPIServed(d discovery.DiscoveryInterface) (bool, error) {
	list, err := d.ServerResourcesForGroupVersion(gwv1.GroupVersion.String())
	if err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	have := map[string]bool{}
	for _, r := range list.APIResources {
		have[r.Name] = true
	}
	return have["httproutes"] && have["referencegrants"], nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// logSkipped logs skipped routes once when they appear, not on every compile.
func (l *Loader) logSkipped(skipped []routing.Skipped, prev map[routing.Skipped]bool) map[routing.Skipped]bool {
	now := make(map[routing.Skipped]bool, len(skipped))
	for _, s := range skipped {
		now[s] = true
		if !prev[s] {
			l.Log.Info("HTTPRoute not applied", "route", s.Route.String(), "rule", s.Rule, "reason", s.Reason)
		}
	}
	return now
}

func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // tombstones pass through
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion},
		Spec:       corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName},
	}, nil
}

type listerSet struct {
	svc   func(labels.Selector) ([]*corev1.Service, error)
	slice func(labels.Selector) ([]*discoveryv1.EndpointSlice, error)
	ns    func(labels.Selector) ([]*corev1.Namespace, error)
	pod   func(labels.Selector) ([]*corev1.Pod, error)
	route func(labels.Selector) ([]*gwv1.HTTPRoute, error)
	grant func(labels.Selector) ([]*gwv1.ReferenceGrant, error)
}

func (ls listerSet) input(wp routing.Waypoint) (routing.Input, error) {
	in := routing.Input{Waypoint: wp}
	var err error
	all := labels.Everything()
	if in.Services, err = ls.svc(all); err != nil {
		return in, err
	}
	if in.EndpointSlices, err = ls.slice(all); err != nil {
		return in, err
	}
	if in.Namespaces, err = ls.ns(all); err != nil {
		return in, err
	}
	if in.HTTPRoutes, err = ls.route(all); err != nil {
		return in, err
	}
	if in.ReferenceGrants, err = ls.grant(all); err != nil {
		return in, err
	}
	pods, err := ls.pod(all)
	if err != nil {
		return in, err
	}
	in.PodServiceAccounts = make(map[types.NamespacedName]string, len(pods))
	for _, p := range pods {
		if sa := p.Spec.ServiceAccountName; sa != "" {
			in.PodServiceAccounts[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = sa
		}
	}
	return in, nil
}
