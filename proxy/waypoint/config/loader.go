// Package config feeds the waypoint from the Kubernetes API: informers for
// HTTPRoutes, GRPCRoutes, ReferenceGrants, Services, EndpointSlices,
// Namespaces, Pods (service account, addresses, mesh labels) and
// AuthorizationPolicies are compiled into a routing.Table and handed to
// the proxy, which swaps it atomically. A bad route is skipped by the
// compiler; nothing here blocks other routes or stops the data plane. Without
// the Gateway API CRDs the waypoint serves Services with no routes and starts
// watching routes once the CRDs are installed.
package config

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/api/mesh"
	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"

	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// Loader watches the API and publishes compiled tables.
type Loader struct {
	Waypoint routing.Waypoint
	Kube     kubernetes.Interface
	Gateway  gwclient.Interface
	// Dynamic reads AuthorizationPolicies; nil enforces none.
	Dynamic dynamic.Interface
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
	gw := &gatewaySource{Loader: l}
	err := gw.start(ctx, notify, func() { poke(changed) })
	defer gw.stop()
	if err != nil {
		return err
	}

	ps := &policySource{Loader: l}
	err = ps.start(ctx, notify, func() { poke(changed) })
	defer ps.stop()
	if err != nil {
		return err
	}

	listers := listerSet{
		svc: svcs.Lister().List, slice: slices.Lister().List, ns: nss.Lister().List, pod: pods.Lister().List,
		route: gw.routes, grpc: gw.grpcRoutes, grant: gw.grants, policy: ps.policies,
	}
	var lastSkipped map[routing.Skipped]bool
	var lastBroken map[string]string
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
		lastBroken = l.logBrokenPolicies(t.Policies, lastBroken)
		l.Log.V(1).Info("routing table updated", "destinations", t.Destinations(), "skipped", len(t.Skipped), "policies", len(t.Policies.Policies()))
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

// logBrokenPolicies logs each policy that does not compile once: it denies
// everything it selects until fixed (the operator reports it in status).
func (l *Loader) logBrokenPolicies(set *authz.Set, prev map[string]string) map[string]string {
	now := map[string]string{}
	for _, p := range set.Policies() {
		if p.Err == nil {
			continue
		}
		now[p.Key] = p.Err.Error()
		if prev[p.Key] != now[p.Key] {
			l.Log.Info("AuthorizationPolicy does not compile: it denies everything it selects", "policy", p.Key, "error", p.Err.Error())
		}
	}
	return now
}

// slimPod keeps what the compiler reads of a Pod: its service account, its
// addresses (workload destinations) and the two mesh labels.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // tombstones pass through
	}
	var labels map[string]string
	for _, k := range []string{mesh.LabelUseWaypoint, mesh.LabelDataplaneMode} {
		if v, ok := p.Labels[k]; ok {
			if labels == nil {
				labels = map[string]string{}
			}
			labels[k] = v
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion, Labels: labels},
		Spec:       corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName, HostNetwork: p.Spec.HostNetwork},
		Status:     corev1.PodStatus{PodIPs: p.Status.PodIPs},
	}, nil
}

// workloadOf is the compiler's view of a Pod; a pod that shares the node's
// network (hostNetwork) has the node's address and is never a workload
// destination, so only its identity is kept.
func workloadOf(p *corev1.Pod) routing.Workload {
	w := routing.Workload{Namespace: p.Namespace, Name: p.Name, ServiceAccount: p.Spec.ServiceAccountName, Labels: p.Labels}
	if p.Spec.HostNetwork {
		return w
	}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			w.IPs = append(w.IPs, a)
		}
	}
	return w
}

type listerSet struct {
	svc   func(labels.Selector) ([]*corev1.Service, error)
	slice func(labels.Selector) ([]*discoveryv1.EndpointSlice, error)
	ns    func(labels.Selector) ([]*corev1.Namespace, error)
	pod   func(labels.Selector) ([]*corev1.Pod, error)
	route func(labels.Selector) ([]*gwv1.HTTPRoute, error)
	grpc  func(labels.Selector) ([]*gwv1.GRPCRoute, error)
	grant func(labels.Selector) ([]*gwv1.ReferenceGrant, error)
	// policy may be nil (no policies).
	policy func(labels.Selector) ([]*meshv1alpha1.AuthorizationPolicy, error)
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
	if in.GRPCRoutes, err = ls.grpc(all); err != nil {
		return in, err
	}
	if in.ReferenceGrants, err = ls.grant(all); err != nil {
		return in, err
	}
	if ls.policy != nil {
		if in.AuthorizationPolicies, err = ls.policy(all); err != nil {
			return in, err
		}
	}
	pods, err := ls.pod(all)
	if err != nil {
		return in, err
	}
	in.PodServiceAccounts = make(map[types.NamespacedName]string, len(pods))
	in.Workloads = make([]routing.Workload, 0, len(pods))
	for _, p := range pods {
		if sa := p.Spec.ServiceAccountName; sa != "" {
			in.PodServiceAccounts[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = sa
		}
		in.Workloads = append(in.Workloads, workloadOf(p))
	}
	return in, nil
}
