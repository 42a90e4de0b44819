package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// OperatorNamespace holds the operator's own objects (ztunnel DaemonSets, the CA Secret).
const OperatorNamespace = "wayfabric-system"

// applySamples creates the operator namespace and every object in config/samples.
func applySamples(ctx context.Context, root string, cfg *rest.Config, env *envtest.Environment) error {
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}
	if err := c.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", OperatorNamespace, err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "mesh_*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, doc := range strings.Split(string(raw), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if err := c.Create(ctx, obj); err != nil {
				return fmt.Errorf("applying sample %s: %w", filepath.Base(f), err)
			}
			fmt.Printf("applied %s %s\n", obj.GetKind(), obj.GetName())
		}
	}
	return nil
}
