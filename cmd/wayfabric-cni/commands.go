package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
)

// Budgets beyond the ztunnel's own timeout (timeoutSeconds).
const (
	apiTimeout = 10 * time.Second
	delTimeout = 10 * time.Second
)

func cmdAdd(args *skel.CmdArgs) error {
	start := time.Now()
	conf, err := cni.ParseNetConf(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, err.Error(), "")
	}
	log := decisionLog{path: conf.LogFile, stderr: os.Stderr}
	d, cniErr := add(conf, args)
	d.Command, d.Time = "ADD", start
	d.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	log.record(d)
	if cniErr != nil {
		return cniErr
	}
	// A chained plugin passes the previous result on unchanged.
	return types.PrintResult(conf.PrevResult, conf.CNIVersion)
}

// add decides for one new sandbox. A non-nil error stops the sandbox; the
// kubelet retries it and shows the message in the pod's events.
func add(conf *cni.NetConf, args *skel.CmdArgs) (decision, *types.Error) {
	if conf.PrevResult == nil {
		msg := cni.PluginType + " is a chained plugin: it must follow the node's network plugin in a conflist (no prevResult)"
		return decision{Result: "failed", Error: msg}, types.NewError(types.ErrInvalidNetworkConfig, msg, "")
	}
	pod, isPod, err := podInfo(args, conf.PrevResult)
	if err != nil {
		return decision{Result: "failed", Error: err.Error()}, types.NewError(types.ErrInvalidEnvironmentVariables, err.Error(), "")
	}
	d := decision{ContainerID: args.ContainerID, Netns: args.Netns}
	if isPod {
		d.Pod, d.UID = pod.String(), pod.UID
	}
	fail := func(code uint, msg string) (decision, *types.Error) {
		d.Result, d.Error = "failed", msg
		return d, types.NewError(code, msg, "")
	}
	switch {
	case !isPod:
		d.Result, d.Reason = "not-kubernetes", "CNI_ARGS names no Kubernetes pod"
		return d, nil
	case conf.Excluded(pod.Namespace):
		d.Result, d.Reason = "excluded", "namespace "+pod.Namespace+" is excluded from the mesh"
		return d, nil
	}

	netns, err := os.Open(args.Netns)
	if err != nil {
		return fail(types.ErrInvalidNetNS, fmt.Sprintf("opening the network namespace of pod %s: %v", pod, err))
	}
	defer netns.Close()
	ctx, cancel := context.WithTimeout(context.Background(), conf.Timeout())
	defer cancel()
	reply, err := cni.Notify(ctx, conf.SocketPath, cni.Request{Op: cni.OpAdd, Pod: pod}, netns)
	switch {
	case err == nil && reply.Error != "":
		return fail(types.ErrTryAgainLater, fmt.Sprintf("ztunnel could not capture pod %s: %s", pod, reply.Error))
	case err == nil && reply.Captured:
		d.Result, d.Reason = "captured", reply.Message
		return d, nil
	case err == nil:
		d.Result, d.Reason = "not-enrolled", orDefault(reply.Message, "the ztunnel says the pod is not enrolled")
		return d, nil
	}

	// No answer from the ztunnel. Only the pod's enrollment decides what
	// that means, so ask the API server.
	enrolled, apiErr := enrolledFromAPI(conf, pod)
	switch {
	case apiErr == nil && !enrolled:
		d.Result, d.Reason = "not-enrolled", fmt.Sprintf("the API server says the pod is not enrolled (ztunnel: %v)", err)
		return d, nil
	case apiErr == nil && errors.Is(err, cni.ErrNoZtunnel):
		return fail(types.ErrTryAgainLater, fmt.Sprintf(
			"no ztunnel is running on this node; enrolled pod %s cannot start until one does (fail closed)", pod))
	case apiErr == nil:
		return fail(types.ErrTryAgainLater, fmt.Sprintf(
			"the ztunnel did not capture enrolled pod %s: %v (fail closed)", pod, err))
	default:
		// Neither the ztunnel nor the API server can say whether this pod
		// belongs to the mesh. Starting it could let an enrolled pod send
		// plaintext; refusing it only delays a pod the kubelet retries. So
		// refuse: the fail-closed side. Excluded namespaces (kube-system:
		// DNS, the network plugin, the ztunnel's own) never get here, so the
		// node itself can still come up.
		return fail(types.ErrTryAgainLater, fmt.Sprintf(
			"cannot tell whether pod %s is enrolled in the mesh: ztunnel: %v; API server: %v; refusing to start it (fail closed)",
			pod, err, apiErr))
	}
}

// enrolledFromAPI applies the mesh's enrollment rule to the pod's and its
// namespace's labels as the API server has them.
func enrolledFromAPI(conf *cni.NetConf, pod cni.PodInfo) (bool, error) {
	if conf.Kubeconfig == "" {
		return false, errors.New("no kubeconfig configured")
	}
	client, err := newAPIClient(conf.Kubeconfig, apiTimeout)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	podLabels, nsLabels, err := client.podAndNamespaceLabels(ctx, pod.Namespace, pod.Name)
	if err != nil {
		return false, err
	}
	return mesh.Enrolled(podLabels, nsLabels), nil
}

// cmdDel tells the ztunnel the sandbox is going; it always succeeds (DEL
// must be idempotent, and a pod must always be removable).
func cmdDel(args *skel.CmdArgs) error {
	start := time.Now()
	d := decision{Command: "DEL", Time: start, ContainerID: args.ContainerID, Netns: args.Netns}
	conf, err := cni.ParseNetConf(args.StdinData)
	if err != nil {
		d.Result, d.Error = "released", err.Error()
		d.DurationMs = float64(time.Since(start).Microseconds()) / 1000
		decisionLog{stderr: os.Stderr}.record(d)
		return nil
	}
	log := decisionLog{path: conf.LogFile, stderr: os.Stderr}
	pod, isPod, err := podInfo(args, nil)
	d.Result = "released"
	if isPod {
		d.Pod, d.UID = pod.String(), pod.UID
	}
	switch {
	case err != nil:
		d.Error = err.Error()
	case !isPod:
		d.Result, d.Reason = "not-kubernetes", "CNI_ARGS names no Kubernetes pod"
	case conf.Excluded(pod.Namespace):
		d.Result, d.Reason = "excluded", "namespace "+pod.Namespace+" is excluded from the mesh"
	default:
		ctx, cancel := context.WithTimeout(context.Background(), min(conf.Timeout(), delTimeout))
		defer cancel()
		reply, err := cni.Notify(ctx, conf.SocketPath, cni.Request{Op: cni.OpDel, Pod: pod}, nil)
		switch {
		case errors.Is(err, cni.ErrNoZtunnel):
			d.Reason = "no ztunnel running; nothing to release"
		case err != nil:
			d.Error = "telling the ztunnel (ignored): " + err.Error()
		case reply.Error != "":
			d.Error = "the ztunnel could not release the pod (ignored): " + reply.Error
		default:
			d.Reason = reply.Message
		}
	}
	d.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	log.record(d)
	return nil
}

// cmdCheck validates the configuration; the ztunnel watches its pods itself.
func cmdCheck(args *skel.CmdArgs) error {
	if _, err := cni.ParseNetConf(args.StdinData); err != nil {
		return types.NewError(types.ErrDecodingFailure, err.Error(), "")
	}
	return nil
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
