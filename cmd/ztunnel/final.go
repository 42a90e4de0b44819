package main

import (
	"context"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var ztunnelConfigs = schema.GroupVersionResource{Group: "mesh.wayfabric.io", Version: "v1alpha1", Resource: "ztunnelconfigs"}

// meshLeaving decides, at SIGTERM, whether the mesh is leaving this node:
// no ZtunnelConfig that is not being deleted selects the node any more
// (this one is gone, being deleted or no longer selects it, and no other
// took the node over). Then the pods go back to plain networking;
// otherwise (a restart, a node reboot, the node moving to another
// ZtunnelConfig's pool, whose ztunnel adopts its pods) they stay captured
// and fail closed until a ztunnel is back. When the API cannot be asked,
// the answer is no: failing closed is safe.
func meshLeaving(kube kubernetes.Interface, dyn dynamic.Interface, config, node string, log logr.Logger) func(context.Context) bool {
	return func(ctx context.Context) bool {
		if config == "" {
			return false
		}
		list, err := dyn.Resource(ztunnelConfigs).List(ctx, metav1.ListOptions{})
		if err != nil {
			log.Error(err, "cannot tell whether the mesh is leaving this node; pods stay captured")
			return false
		}
		n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			log.Error(err, "cannot read this node's labels; pods stay captured")
			return false
		}
		leaving, why := leavingNode(config, list.Items, n.Labels)
		log.Info(why, "ztunnelConfig", config, "meshLeavingNode", leaving)
		return leaving
	}
}

// leavingNode is meshLeaving's decision from the ZtunnelConfigs and the
// node's labels, with its reason for the log.
func leavingNode(own string, configs []unstructured.Unstructured, nodeLabels map[string]string) (bool, string) {
	for _, zc := range configs {
		if zc.GetDeletionTimestamp() != nil {
			continue
		}
		sel, _, _ := unstructuredStringMap(zc.Object, "spec", "nodeSelector")
		if !labels.SelectorFromSet(sel).Matches(labels.Set(nodeLabels)) {
			continue
		}
		if zc.GetName() == own {
			return false, "the ZtunnelConfig still selects this node: pods stay captured for the next ztunnel"
		}
		return false, "ZtunnelConfig " + zc.GetName() + " selects this node now: pods stay captured for its ztunnel"
	}
	return true, "no ZtunnelConfig selects this node any more: removing the mesh from it"
}
