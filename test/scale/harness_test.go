package scale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// controlPlane is envtest with an admin kubeconfig for the manager process.
type controlPlane struct {
	env        *envtest.Environment
	client     client.Client // uncached, for the driver
	kubeconfig string
}

func startControlPlane(dir string) (*controlPlane, error) {
	cp := &controlPlane{}
	var err error
	if cp.env, err = testenv.New(); err != nil {
		return nil, err
	}
	// envtest's default Service range is a /24: too small for 1,000 waypoint
	// Services. A /16, like a real cluster's, so the fleet is the limit.
	cp.env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	cfg, err := cp.env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	if cp.client, err = client.New(cfg, client.Options{Scheme: cp.env.Scheme}); err != nil {
		return nil, errors.Join(err, cp.env.Stop())
	}
	admin, err := cp.env.AddUser(envtest.User{Name: "manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, errors.Join(err, cp.env.Stop())
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		return nil, errors.Join(err, cp.env.Stop())
	}
	cp.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(cp.kubeconfig, raw, 0o600); err != nil {
		return nil, errors.Join(err, cp.env.Stop())
	}
	return cp, nil
}

func (cp *controlPlane) stop() error { return cp.env.Stop() }

// countWrites wraps the reconciler's client to count its API writes.
func countWrites(c client.Client, n *atomic.Int64) client.Client {
	return interceptor.NewClient(noWatch{c}, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			n.Add(1)
			return c.Apply(ctx, obj, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			n.Add(1)
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			n.Add(1)
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			n.Add(1)
			return c.Patch(ctx, obj, p, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			n.Add(1)
			return c.Update(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			n.Add(1)
			return c.Delete(ctx, obj, opts...)
		},
	})
}

type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch is not supported by the counting client")
}
