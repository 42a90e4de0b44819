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
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

// policyResource is what the waypoint reads to enforce authorization.
var policyResource = authz.PolicyResource

// policySource serves AuthorizationPolicies from a dynamic informer (there
// is no generated clientset for our API). Until the API server serves the
// kind (an operator older than the waypoint), no policy can exist, so none
// is enforced; once it is, the first table waits for the cache, so a
// waypoint never serves without the policies that exist.
type policySource struct {
	*Loader
	current atomic.Pointer[func(labels.Selector) ([]*meshv1alpha1.AuthorizationPolicy, error)]
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func (s *policySource) start(ctx context.Context, notify cache.ResourceEventHandler, changed func()) error {
	ctx, s.cancel = context.WithCancel(ctx)
	if s.Dynamic == nil {
		s.Log.Info("no dynamic client: AuthorizationPolicies are not enforced")
		return nil
	}
	served, err := policiesServed(s)
	if err != nil {
		// Never serve without knowing whether policies exist.
		return fmt.Errorf("looking up AuthorizationPolicy in discovery: %w", err)
	}
	if served {
		return s.watch(ctx, notify, changed)
	}
	s.Log.Info("AuthorizationPolicy not served: enforcing none until it is", "poll", s.GatewayAPIPoll)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.GatewayAPIPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if ok, err := policiesServed(s); err != nil || !ok {
				continue
			}
			s.Log.Info("AuthorizationPolicy served: watching policies")
			if err := s.watch(ctx, notify, changed); err != nil && ctx.Err() == nil {
				s.Log.Error(err, "watching AuthorizationPolicies; none is enforced")
			}
			return
		}
	}()
	return nil
}

func policiesServed(s *policySource) (bool, error) {
	list, err := s.Kube.Discovery().ServerResourcesForGroupVersion(meshv1alpha1.GroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == policyResource.Resource }), nil
}

func (s *policySource) stop() {
	s.cancel()
	s.wg.Wait()
}

func (s *policySource) policies(sel labels.Selector) ([]*meshv1alpha1.AuthorizationPolicy, error) {
	if l := s.current.Load(); l != nil {
		return (*l)(sel)
	}
	return nil, nil
}

func (s *policySource) watch(ctx context.Context, notify cache.ResourceEventHandler, changed func()) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(s.Dynamic, 0)
	inf := f.ForResource(policyResource).Informer()
	// Convert once per event, not once per compile; keep only what the
	// compiler reads (status churn costs nothing but the event).
	if err := inf.SetTransform(authz.TypedPolicy); err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(notify); err != nil {
		return err
	}
	f.Start(ctx.Done())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		f.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("cache for %s did not sync", policyResource)
	}
	list := func(sel labels.Selector) ([]*meshv1alpha1.AuthorizationPolicy, error) {
		var out []*meshv1alpha1.AuthorizationPolicy
		for _, o := range inf.GetStore().List() {
			if p, ok := o.(*meshv1alpha1.AuthorizationPolicy); ok && sel.Matches(labels.Set(p.Labels)) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	s.current.Store(&list)
	changed()
	return nil
}
