package ztunnel

import (
	"context"
	"net/netip"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// rescanAfter is how long a pod whose namespace was not found in /proc
// waits before the next scan (its sandbox may still be starting).
const rescanAfter = 2 * time.Second

// Reconcile brings the captured set in line with a snapshot: pods that
// left the mesh are released (their rules removed), pods that are gone are
// forgotten, and enrolled pods running on the node that are not captured
// yet (after a ztunnel restart, or when a label enrolled a running pod)
// are adopted from their namespace found in /proc. New pods normally
// arrive through the CNI plugin before they start (AddPod).
func (n *Node) Reconcile(ctx context.Context, snap *discovery.Snapshot) {
	if n.stopping.Load() {
		return
	}
	// enrolled keeps a pod; want (enrolled, with its addresses known) is
	// what adoption can look for. A pod the CNI plugin just captured shows
	// no IP in the API yet: it is not a reason to release it.
	want := map[types.UID]*discovery.Workload{}
	enrolled := map[types.UID]bool{}
	snap.WorkloadsOn(n.cfg.NodeName, func(w *discovery.Workload) {
		if snap.Enrolled(w) {
			enrolled[w.UID] = true
			if len(w.IPs) > 0 {
				want[w.UID] = w
			}
		}
	})
	n.mu.Lock()
	var gone, left []types.UID
	for uid := range n.pods {
		switch w := snap.WorkloadByUID(uid); {
		case w == nil || !w.Running:
			gone = append(gone, uid)
		case !enrolled[uid] && !n.pods[uid].viaCNIPending(snap):
			left = append(left, uid)
		}
	}
	var missing []*discovery.Workload
	now := time.Now()
	for uid, w := range want {
		if n.pods[uid] == nil && !n.starting[uid] && now.Sub(n.notFound[uid]) >= rescanAfter {
			missing = append(missing, w)
			n.starting[uid] = true
		}
	}
	for uid := range n.notFound {
		if want[uid] == nil {
			delete(n.notFound, uid)
		}
	}
	n.mu.Unlock()
	for _, uid := range gone {
		n.releasePod(uid, false, "pod gone")
	}
	n.reauthorize()
	for _, uid := range left {
		n.releasePod(uid, true, "pod no longer enrolled")
	}
	if len(missing) > 0 {
		n.adopt(ctx, missing)
	}
	if !n.adopted.Load() {
		n.adopted.Store(true)
		n.cfg.Log.Info("adoption pass complete", "captured", n.Captured())
	}
}

// viaCNIPending: a pod captured through CNI before the API showed its
// labels is kept until the snapshot knows it.
func (p *podProxy) viaCNIPending(snap *discovery.Snapshot) bool {
	return snap.WorkloadByUID(p.uid) == nil
}

// adopt finds running pods' namespaces by their addresses and captures them.
func (n *Node) adopt(ctx context.Context, pods []*discovery.Workload) {
	done := func(w *discovery.Workload, found bool) {
		n.mu.Lock()
		delete(n.starting, w.UID)
		if !found {
			n.notFound[w.UID] = time.Now()
		} else {
			delete(n.notFound, w.UID)
		}
		n.mu.Unlock()
	}
	var addrs []netip.Addr
	for _, w := range pods {
		addrs = append(addrs, w.IPs...)
	}
	found, err := netns.FindByAddr(n.cfg.ProcRoot, addrs)
	if err != nil {
		n.cfg.Log.Error(err, "scanning for pod network namespaces", "procRoot", n.cfg.ProcRoot)
	}
	used := map[*netns.NS]bool{}
	for _, w := range pods {
		var ns *netns.NS
		for _, ip := range w.IPs {
			if ns = found[ip]; ns != nil {
				break
			}
		}
		if ns == nil || used[ns] {
			done(w, false)
			n.cfg.Log.V(1).Info("pod network namespace not found yet", "pod", w.Key().String(), "ips", w.IPs)
			continue
		}
		used[ns] = true
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := n.capturePod(cctx, w, w.IPs, ns, nil)
		cancel()
		if err != nil {
			_ = ns.Close()
			n.cfg.Log.Error(err, "adopting a running pod failed; retrying", "pod", w.Key().String())
			done(w, false)
			continue
		}
		done(w, true)
	}
	for _, ns := range found {
		if !used[ns] {
			_ = ns.Close()
		}
	}
}

// reauthorize re-checks every pod's open inbound connections against the
// current policies.
func (n *Node) reauthorize() {
	n.mu.Lock()
	pods := make([]*podProxy, 0, len(n.pods))
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.mu.Unlock()
	for _, p := range pods {
		p.reauthorize()
	}
}
