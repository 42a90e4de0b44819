// Package cni is the node side of Wayfabric's chained CNI plugin: the
// messages the plugin (cmd/wayfabric-cni) and the ztunnel exchange over the
// node socket, the ztunnel's server for them, the plugin's client, the
// plugin's network configuration, and the installer that puts the plugin
// into the node's CNI configuration. See docs/ztunnel.md ("Life of a pod").
package cni

import (
	"errors"
	"fmt"
)

// Operations a Request asks for.
const (
	// OpAdd: a pod sandbox was created; its network namespace travels with
	// the request. The ztunnel answers once the pod is captured (or not
	// enrolled).
	OpAdd = "add"
	// OpDel: the sandbox is going away; best effort.
	OpDel = "del"
	// OpCheck: is the pod still set up as the ztunnel said?
	OpCheck = "check"
)

// Request is the one message the plugin sends per CNI command.
type Request struct {
	Op  string  `json:"op"`
	Pod PodInfo `json:"pod"`
}

// PodInfo names the pod sandbox the runtime is setting up, as the kubelet
// and the previous plugins described it.
type PodInfo struct {
	Namespace   string   `json:"namespace"`
	Name        string   `json:"name"`
	UID         string   `json:"uid,omitempty"`
	ContainerID string   `json:"containerID"`
	NetnsPath   string   `json:"netnsPath,omitempty"`
	IfName      string   `json:"ifName,omitempty"`
	IPs         []string `json:"ips,omitempty"`
}

// String is "<namespace>/<name>", the form logs and errors use.
func (p PodInfo) String() string { return p.Namespace + "/" + p.Name }

// Reply is the ztunnel's answer. Error set: the pod must not start
// (the kubelet retries the sandbox and shows Error in the pod's events).
// Otherwise Captured says whether the pod is now in the mesh; false means
// it is not enrolled, which is fine.
type Reply struct {
	Captured bool   `json:"captured"`
	Message  string `json:"message,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Validate checks what the server needs before calling a handler.
func (r Request) Validate() error {
	switch r.Op {
	case OpAdd, OpDel, OpCheck:
	case "":
		return errors.New("request has no op")
	default:
		return fmt.Errorf("unknown op %q (want %s, %s or %s)", r.Op, OpAdd, OpDel, OpCheck)
	}
	if r.Pod.Namespace == "" || r.Pod.Name == "" {
		return fmt.Errorf("%s request without pod namespace and name", r.Op)
	}
	if r.Pod.ContainerID == "" {
		return fmt.Errorf("%s request for pod %s without container ID", r.Op, r.Pod)
	}
	return nil
}
