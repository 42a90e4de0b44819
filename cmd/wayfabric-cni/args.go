package main

import (
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
)

// k8sArgs are the keys the kubelet's runtime puts into CNI_ARGS; the
// field names must be the keys (types.LoadArgs matches them by name).
type k8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString
	K8S_POD_NAME               types.UnmarshallableString
	K8S_POD_UID                types.UnmarshallableString
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString
}

// podInfo describes the sandbox; ok is false when CNI_ARGS names no
// Kubernetes pod (another user of the runtime's CNI).
func podInfo(args *skel.CmdArgs, prev types.Result) (cni.PodInfo, bool, error) {
	var k k8sArgs
	// Other plugins of the list may have their own keys.
	k.IgnoreUnknown = true
	if err := types.LoadArgs(args.Args, &k); err != nil {
		return cni.PodInfo{}, false, fmt.Errorf("parsing CNI_ARGS: %w", err)
	}
	if k.K8S_POD_NAME == "" {
		return cni.PodInfo{}, false, nil
	}
	pod := cni.PodInfo{
		Namespace:   string(k.K8S_POD_NAMESPACE),
		Name:        string(k.K8S_POD_NAME),
		UID:         string(k.K8S_POD_UID),
		ContainerID: args.ContainerID,
		NetnsPath:   args.Netns,
		IfName:      args.IfName,
	}
	if pod.Namespace == "" {
		return cni.PodInfo{}, false, fmt.Errorf("CNI_ARGS names pod %q without K8S_POD_NAMESPACE", pod.Name)
	}
	if prev != nil {
		ips, err := sandboxIPs(prev)
		if err != nil {
			return cni.PodInfo{}, false, err
		}
		pod.IPs = ips
	}
	return pod, true, nil
}

// sandboxIPs are the pod's addresses from the previous plugin's result:
// those on interfaces inside the sandbox (or not tied to an interface).
func sandboxIPs(prev types.Result) ([]string, error) {
	res, err := types100.NewResultFromResult(prev)
	if err != nil {
		return nil, fmt.Errorf("reading prevResult: %w", err)
	}
	var ips []string
	for _, ip := range res.IPs {
		if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(res.Interfaces) &&
			res.Interfaces[*ip.Interface].Sandbox == "" {
			continue
		}
		ips = append(ips, ip.Address.IP.String())
	}
	return ips, nil
}
