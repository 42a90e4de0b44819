package main

import (
	"context"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var ztunnelConfigs = schema.GroupVersionResource{Group: "mesh.wayfabric.io", Version: "v1alpha1", Resource: "ztunnelconfigs"}

// meshLeaving decides, at SIGTERM, whether the mesh is leaving this node:
// the ZtunnelConfig is gone or being deleted, or no longer selects the
// node. Then the pods go back to plain networking; otherwise (a restart, a
// node reboot) they stay captured and fail closed until a ztunnel is back.
// When the API cannot be asked, the answer is no: failing closed is safe.
func meshLeaving(kube kubernetes.Interface, dyn dynamic.Interface, config, node string, log logr.Logger) func(context.Context) bool {
	return func(ctx context.Context) bool {
		if config == "" {
			return false
		}
		zc, err := dyn.Resource(ztunnelConfigs).Get(ctx, config, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			log.Info("ZtunnelConfig is gone: removing the mesh from this node", "ztunnelConfig", config)
			return true
		}
		if err != nil {
			log.Error(err, "cannot tell whether the mesh is leaving this node; pods stay captured")
			return false
		}
		if zc.GetDeletionTimestamp() != nil {
			log.Info("ZtunnelConfig is being deleted: removing the mesh from this node", "ztunnelConfig", config)
			return true
		}
		sel, _, _ := unstructuredStringMap(zc.Object, "spec", "nodeSelector")
		n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false
		}
		if !labels.SelectorFromSet(sel).Matches(labels.Set(n.Labels)) {
			log.Info("ZtunnelConfig no longer selects this node: removing the mesh from it", "ztunnelConfig", config)
			return true
		}
		return false
	}
}
