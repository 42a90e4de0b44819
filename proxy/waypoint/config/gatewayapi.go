package config

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// gatewayKinds are what the waypoint reads from the Gateway API. Grants are
// read at v1beta1, served by every Gateway API release (v1 only from 1.5),
// as the operator does.
var gatewayKinds = []struct{ groupVersion, resource string }{
	{gwv1.GroupVersion.String(), "httproutes"},
	{gwv1beta1.GroupVersion.String(), "referencegrants"},
}

// grpcRoutesKind is watched when served: GRPCRoute is GA (v1) from Gateway
// API 1.1, and a cluster with an older release still gets its HTTPRoutes.
var grpcRoutesKind = struct{ groupVersion, resource string }{gwv1.GroupVersion.String(), "grpcroutes"}

// gatewaySource serves HTTPRoutes, GRPCRoutes and ReferenceGrants from
// informers once the API server serves them, and none before: a waypoint on
// a cluster without the Gateway API routes Services to themselves.
type gatewaySource struct {
	*Loader
	current atomic.Pointer[gatewayListers]
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type gatewayListers struct {
	route func(labels.Selector) ([]*gwv1.HTTPRoute, error)
	grpc  func(labels.Selector) ([]*gwv1.GRPCRoute, error) // nil when not served
	grant func(labels.Selector) ([]*gwv1beta1.ReferenceGrant, error)
}

// start watches the Gateway API now if it is served, else polls for it in
// the background; changed is called when the listers change.
func (g *gatewaySource) start(ctx context.Context, notify cache.ResourceEventHandler, changed func()) error {
	ctx, g.cancel = context.WithCancel(ctx)
	missing, err := missingGatewayKinds(g.Kube.Discovery())
	if err == nil && len(missing) == 0 {
		return g.watch(ctx, notify, changed)
	}
	g.Log.Info("Gateway API not served: routing Services without HTTPRoutes until it is",
		"missing", missing, "lookupError", errString(err), "poll", g.GatewayAPIPoll)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.await(ctx, notify, changed)
	}()
	return nil
}

// stop ends the informers and the poll, and waits for them.
func (g *gatewaySource) stop() {
	g.cancel()
	g.wg.Wait()
}

func (g *gatewaySource) routes(s labels.Selector) ([]*gwv1.HTTPRoute, error) {
	if l := g.current.Load(); l != nil {
		return l.route(s)
	}
	return nil, nil
}

func (g *gatewaySource) grpcRoutes(s labels.Selector) ([]*gwv1.GRPCRoute, error) {
	if l := g.current.Load(); l != nil && l.grpc != nil {
		return l.grpc(s)
	}
	return nil, nil
}

func (g *gatewaySource) grants(s labels.Selector) ([]*gwv1.ReferenceGrant, error) {
	l := g.current.Load()
	if l == nil {
		return nil, nil
	}
	in, err := l.grant(s)
	out := make([]*gwv1.ReferenceGrant, len(in))
	for i, r := range in {
		out[i] = (*gwv1.ReferenceGrant)(r) // v1beta1.ReferenceGrant is defined as v1.ReferenceGrant
	}
	return out, err
}

// watch starts the informers and publishes their listers once synced.
func (g *gatewaySource) watch(ctx context.Context, notify cache.ResourceEventHandler, changed func()) error {
	gf := gwinformers.NewSharedInformerFactory(g.Gateway, 0)
	routes := gf.Gateway().V1().HTTPRoutes()
	grants := gf.Gateway().V1beta1().ReferenceGrants()
	informers := []cache.SharedIndexInformer{routes.Informer(), grants.Informer()}
	listers := &gatewayListers{route: routes.Lister().List, grant: grants.Lister().List}
	if served, err := servesResource(g.Kube.Discovery(), grpcRoutesKind.groupVersion, grpcRoutesKind.resource); err != nil {
		return err
	} else if served {
		grpc := gf.Gateway().V1().GRPCRoutes()
		informers = append(informers, grpc.Informer())
		listers.grpc = grpc.Lister().List
	} else {
		g.Log.Info("GRPCRoutes (gateway.networking.k8s.io/v1) not served: only HTTPRoutes apply; restart the waypoint after upgrading the Gateway API")
	}
	for _, inf := range informers {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return err
		}
	}
	gf.Start(ctx.Done())
	g.wg.Add(1)
	go func() { // Shutdown waits for the informers, once ctx has stopped them.
		defer g.wg.Done()
		<-ctx.Done()
		gf.Shutdown()
	}()
	for typ, ok := range gf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync", typ)
		}
	}
	g.current.Store(listers)
	changed()
	return nil
}

// await polls discovery until the Gateway API is served, then watches it.
func (g *gatewaySource) await(ctx context.Context, notify cache.ResourceEventHandler, changed func()) {
	t := time.NewTicker(g.GatewayAPIPoll)
	defer t.Stop()
	var lastMissing []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		missing, err := missingGatewayKinds(g.Kube.Discovery())
		if err != nil || len(missing) > 0 {
			if err == nil && !slices.Equal(missing, lastMissing) {
				g.Log.Info("Gateway API still not fully served: HTTPRoutes stay unapplied", "missing", missing)
				lastMissing = missing
			}
			continue
		}
		g.Log.Info("Gateway API served: watching HTTPRoutes and ReferenceGrants")
		if err := g.watch(ctx, notify, changed); err != nil && ctx.Err() == nil {
			g.Log.Error(err, "watching the Gateway API; HTTPRoutes stay unapplied")
		}
		return
	}
}

// missingGatewayKinds lists the gatewayKinds the API server does not serve,
// as "resource.groupVersion".
func missingGatewayKinds(d discovery.DiscoveryInterface) ([]string, error) {
	var missing []string
	for _, k := range gatewayKinds {
		served, err := servesResource(d, k.groupVersion, k.resource)
		if err != nil {
			return nil, err
		}
		if !served {
			missing = append(missing, k.resource+"."+k.groupVersion)
		}
	}
	return missing, nil
}

// servesResource asks discovery whether groupVersion has resource.
func servesResource(d discovery.DiscoveryInterface, groupVersion, resource string) (bool, error) {
	list, err := d.ServerResourcesForGroupVersion(groupVersion)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == resource }), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
