package ztunnel

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// podVisibleWait is how long a CNI ADD waits for the pod to appear in the
// informer cache (the kubelet runs the sandbox moments after the API
// server stored the pod; the watch may lag slightly).
const podVisibleWait = 10 * time.Second

// AddPod implements cni.Handler: the CNI plugin hands over a new pod's
// network namespace before any of its containers start. An enrolled pod
// is answered only once it is fully captured (rules, certificate,
// listeners), so its first packet already goes through the mesh. The
// server closes nsFile when AddPod returns: a captured pod keeps a copy.
func (n *Node) AddPod(ctx context.Context, info cni.PodInfo, nsFile *os.File) cni.Reply {
	if n.stopping.Load() {
		return cni.Reply{Error: "ztunnel is shutting down; retry"}
	}
	if nsFile == nil {
		return cni.Reply{Error: "no network namespace received"}
	}
	dup, err := dupFile(nsFile)
	if err != nil {
		return cni.Reply{Error: fmt.Sprintf("keeping the network namespace: %v", err)}
	}
	ns, err := netns.FromFile(dup)
	if err != nil {
		return cni.Reply{Error: fmt.Sprintf("invalid network namespace: %v", err)}
	}
	key := types.NamespacedName{Namespace: info.Namespace, Name: info.Name}
	w, snap := n.waitForPod(ctx, types.UID(info.UID), key)
	if w == nil {
		_ = ns.Close()
		return cni.Reply{Error: fmt.Sprintf("pod %s (uid %s) is not in the ztunnel's view of the API yet; retry", key, info.UID)}
	}
	if !snap.Enrolled(w) {
		_ = ns.Close()
		return cni.Reply{Captured: false, Message: "not enrolled"}
	}
	var ips []netip.Addr
	for _, s := range info.IPs {
		if p, err := netip.ParsePrefix(s); err == nil {
			ips = append(ips, p.Addr().Unmap())
		} else if a, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, a.Unmap())
		}
	}
	if len(ips) == 0 {
		ips = w.IPs
	}
	if len(ips) == 0 {
		_ = ns.Close()
		return cni.Reply{Error: "the CNI result has no pod address"}
	}
	n.mu.Lock()
	if p := n.pods[w.UID]; p != nil {
		n.mu.Unlock()
		_ = ns.Close()
		return cni.Reply{Captured: true, Message: "already captured"}
	}
	n.starting[w.UID] = true
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.starting, w.UID)
		n.mu.Unlock()
	}()
	if _, err := n.capturePod(ctx, w, ips, ns, nil); err != nil {
		_ = ns.Close()
		return cni.Reply{Error: err.Error()}
	}
	return cni.Reply{Captured: true, Message: "captured"}
}

// DelPod implements cni.Handler: the sandbox is going away.
func (n *Node) DelPod(_ context.Context, info cni.PodInfo) cni.Reply {
	n.releasePod(types.UID(info.UID), false, "CNI DEL")
	return cni.Reply{Message: "released"}
}

func (n *Node) waitForPod(ctx context.Context, uid types.UID, key types.NamespacedName) (*discovery.Workload, *discovery.Snapshot) {
	deadline := time.Now().Add(podVisibleWait)
	for {
		if snap := n.snapshot(); snap != nil {
			if w := snap.WorkloadByUID(uid); w != nil {
				return w, snap
			}
			if uid == "" {
				if w := snap.Workload(key); w != nil {
					return w, snap
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var _ cni.Handler = (*Node)(nil)
