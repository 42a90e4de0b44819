package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

// OperatorNamespace holds the operator's own objects (ztunnel DaemonSets, the CA Secret).
const OperatorNamespace = "wayfabric-system"

// applySamples creates the operator namespace and every object in config/samples.
func applySamples(ctx context.Context, cfg *rest.Config, env *envtest.Environment) error {
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}
	if err := c.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", OperatorNamespace, err)
	}
	samples, err := testenv.Samples()
	if err != nil {
		return err
	}
	for _, obj := range samples {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("applying sample %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		fmt.Printf("applied %s %s\n", obj.GetKind(), obj.GetName())
	}
	return nil
}
