// Package ztunnelstatus is the wire format of the status a ztunnel serves
// on its stats port and the manager sums into its ZtunnelConfig's status.
// It is a leaf package (standard library only): the manager reads it
// without importing the node proxy and its netlink dependencies.
package ztunnelstatus

// Port and Path of the status endpoint on every ztunnel pod.
const (
	Port = 15020
	Path = "/status"
)

// Status is GET :15020/status of one ztunnel (docs/ztunnel.md, Operations).
type Status struct {
	Node            string `json:"node"`
	Version         string `json:"version"`
	Ready           bool   `json:"ready"`
	Draining        bool   `json:"draining"`
	CapturedPods    int    `json:"capturedPods"`
	OpenConnections int    `json:"openConnections"`
}

// Serving reports whether this ztunnel carries its node's traffic: ready
// and not handing over or draining. Only serving ztunnels are counted, so
// a node in the middle of a handover is not counted twice.
func (s Status) Serving() bool { return s.Ready && !s.Draining }
