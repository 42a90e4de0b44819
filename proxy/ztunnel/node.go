package ztunnel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// Config configures a Node.
type Config struct {
	// NodeName is the node this ztunnel serves (spec.nodeName of its pods).
	NodeName    string
	TrustDomain string
	Certs       identity.CertProvider
	Bundle      *identity.Bundle
	// Capture holds the ports, marks and exclusions of the pod rules.
	// ExemptSources should hold the node's addresses (kubelet probes come
	// from them); each pod's gateway addresses are added to it.
	Capture capture.Config
	// ProcRoot is the host's /proc, where running pods' namespaces are
	// found when they are adopted (after a restart, or when a label
	// enrolls a running pod).
	ProcRoot string
	// Snapshot returns the current view of the cluster (nil: not synced).
	Snapshot     func() *discovery.Snapshot
	Metrics      *Metrics
	HBONEMetrics *hbone.Metrics
	Log          logr.Logger
}

// Node captures and serves the enrolled pods of one node.
type Node struct {
	cfg Config

	mu       sync.Mutex
	pods     map[types.UID]*podProxy
	starting map[types.UID]bool
	// notFound remembers when a running pod's namespace was last looked
	// for in vain, so /proc is not rescanned on every change.
	notFound map[types.UID]time.Time

	warnTransparent sync.Once
	// denyLog bounds denial log lines (a scan of a locked-down pod must not
	// flood the log): 10 a second, bursts of 50.
	denyLog  *rate.Limiter
	adopted  atomic.Bool
	stopping atomic.Bool
}

// NewNode returns a Node; call Reconcile with every snapshot.
func NewNode(cfg Config) *Node {
	if cfg.Log.GetSink() == nil {
		cfg.Log = logr.Discard()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Node{cfg: cfg, pods: map[types.UID]*podProxy{}, starting: map[types.UID]bool{}, notFound: map[types.UID]time.Time{},
		denyLog: rate.NewLimiter(10, 50)}
}

func (n *Node) snapshot() *discovery.Snapshot { return n.cfg.Snapshot() }

// reservedPort: the ztunnel's own ports inside a pod are never a target.
func (n *Node) reservedPort(port uint16) bool {
	c := n.cfg.Capture
	return port == c.OutboundPort || port == c.InboundPort || port == c.HBONEPort
}

// Captured returns how many pods are captured now.
func (n *Node) Captured() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pods)
}

// Adopted is true once the first reconcile captured every enrolled pod
// already running on the node (a ztunnel is not ready before).
func (n *Node) Adopted() bool { return n.adopted.Load() }

// CapturedPods lists the captured pods' names (for logs and tests).
func (n *Node) CapturedPods() []types.NamespacedName {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]types.NamespacedName, 0, len(n.pods))
	for _, p := range n.pods {
		out = append(out, p.key)
	}
	slices.SortFunc(out, func(a, b types.NamespacedName) int {
		return cmpString(a.String(), b.String())
	})
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// capturePod installs the pod's rules, fetches its certificate, opens its
// listeners (or takes over handed ones) and starts serving. The pod is
// captured only when all of that succeeded; on error its rules stay (the
// pod fails closed) and the caller may retry.
func (n *Node) capturePod(ctx context.Context, w *discovery.Workload, ips []netip.Addr, ns *netns.NS, handed []*net.TCPListener) (*podProxy, error) {
	start := time.Now()
	id, err := identity.New(n.cfg.TrustDomain, w.Namespace, w.ServiceAccount)
	if err != nil {
		return nil, fmt.Errorf("identity of pod %s: %w", w.Key(), err)
	}
	rules := n.cfg.Capture
	rules.ExemptSources = append(slices.Clone(rules.ExemptSources), gatewayPrefixes(ns)...)
	if err := capture.Install(ns, rules); err != nil {
		return nil, fmt.Errorf("installing capture rules in pod %s: %w", w.Key(), err)
	}
	// The certificate first: a pod is reported captured only when its
	// identity is ready, so its first connection never waits for the CA.
	if _, err := n.cfg.Certs.GetCertificate(ctx, id); err != nil {
		return nil, fmt.Errorf("certificate for %s: %w", id, err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	p := &podProxy{n: n, uid: w.UID, key: w.Key(), id: id, ips: ips, ns: ns, workload: workloadLabel(w),
		log: n.cfg.Log.WithValues("pod", w.Key().String(), "identity", id.String()),
		ctx: pctx, cancel: cancel, conns: map[net.Conn]struct{}{}, inbound: map[net.Conn]*authz.L4Request{}}
	p.client, err = hbone.NewClient(hbone.ClientConfig{Certs: n.cfg.Certs, Bundle: n.cfg.Bundle,
		DialContext: p.dialer, Log: p.log, Metrics: n.cfg.HBONEMetrics})
	if err != nil {
		cancel()
		return nil, err
	}
	p.hbone, err = hbone.NewServer(hbone.ServerConfig{
		TLS: identity.ServerTLS{Certs: n.cfg.Certs, Bundle: n.cfg.Bundle, LocalID: id,
			Authorize: p.authorizePeer}.Config(),
		Log: p.log, Metrics: n.cfg.HBONEMetrics,
	}, p)
	if err != nil {
		cancel()
		_ = p.client.Close()
		return nil, err
	}
	if handed != nil {
		p.listeners, err = n.adoptListeners(handed)
	} else {
		p.listeners, err = n.openListeners(ns, ips)
	}
	if err != nil {
		cancel()
		_ = p.client.Close()
		return nil, fmt.Errorf("listeners in pod %s: %w", w.Key(), err)
	}
	n.mu.Lock()
	if old := n.pods[w.UID]; old != nil {
		n.mu.Unlock()
		p.closeListeners()
		cancel()
		_ = p.client.Close()
		return old, nil
	}
	n.pods[w.UID] = p
	count := len(n.pods)
	n.mu.Unlock()
	p.serve()
	n.cfg.Metrics.captured.Set(float64(count))
	n.cfg.Metrics.captureSetup.Observe(time.Since(start).Seconds())
	p.log.Info("pod captured", "ips", fmt.Sprint(ips), "setupMs", time.Since(start).Milliseconds(), "handedOver", handed != nil)
	return p, nil
}

// openListeners binds the pod's listeners: outbound on loopback (the
// redirect target of the output hook; unreachable from outside the pod),
// inbound and HBONE on every address. SO_REUSEPORT lets an upgraded
// ztunnel bind next to this one if it cannot take the sockets over.
func (n *Node) openListeners(ns *netns.NS, ips []netip.Addr) ([]*portListener, error) {
	c := n.cfg.Capture
	type spec struct {
		addr netip.Addr
		port uint16
	}
	var specs []spec
	families := map[bool]bool{}
	for _, ip := range ips {
		families[ip.Is4()] = true
	}
	if families[true] {
		specs = append(specs, spec{netip.AddrFrom4([4]byte{127, 0, 0, 1}), c.OutboundPort},
			spec{netip.IPv4Unspecified(), c.InboundPort}, spec{netip.IPv4Unspecified(), c.HBONEPort})
	}
	if families[false] {
		specs = append(specs, spec{netip.IPv6Loopback(), c.OutboundPort},
			spec{netip.IPv6Unspecified(), c.InboundPort}, spec{netip.IPv6Unspecified(), c.HBONEPort})
	}
	var out []*portListener
	for _, s := range specs {
		l, err := ns.ListenTCP(netip.AddrPortFrom(s.addr, s.port), netns.ListenOptions{ReusePort: true})
		if err != nil {
			for _, pl := range out {
				_ = pl.l.Close()
			}
			return nil, err
		}
		out = append(out, &portListener{port: s.port, l: l})
	}
	return out, nil
}

// adoptListeners wraps listening sockets handed over by the previous ztunnel.
func (n *Node) adoptListeners(ls []*net.TCPListener) ([]*portListener, error) {
	out := make([]*portListener, 0, len(ls))
	for _, l := range ls {
		ap, err := netip.ParseAddrPort(l.Addr().String())
		if err != nil {
			return nil, err
		}
		out = append(out, &portListener{port: ap.Port(), l: l})
	}
	return out, nil
}

func (p *podProxy) closeListeners() {
	for _, pl := range p.listeners {
		_ = pl.l.Close()
	}
}

// releasePod stops serving a pod. With removeRules (the pod left the mesh
// but runs on) its rules go first, so its new connections flow directly
// instead of being refused; a deleted pod's namespace goes away with it.
func (n *Node) releasePod(uid types.UID, removeRules bool, why string) {
	n.mu.Lock()
	p := n.pods[uid]
	delete(n.pods, uid)
	count := len(n.pods)
	n.mu.Unlock()
	if p == nil {
		return
	}
	n.cfg.Metrics.captured.Set(float64(count))
	if removeRules {
		if err := capture.Remove(p.ns); err != nil {
			p.log.Error(err, "removing capture rules; the pod's traffic stays captured and is refused until it restarts")
		}
	}
	p.log.Info("pod released", "reason", why, "rulesRemoved", removeRules)
	// Connections in flight finish on their own (they were accepted before
	// the release); the grace is bounded so a release never hangs.
	go p.stop(releaseGrace)
}

// releaseGrace bounds how long a released pod's open connections may run.
const releaseGrace = 30 * time.Second

func workloadLabel(w *discovery.Workload) string {
	for _, k := range []string{"app.kubernetes.io/name", "app"} {
		if v := w.Labels[k]; v != "" {
			return v
		}
	}
	return w.ServiceAccount
}

// UpdateCapture re-installs every captured pod's rules with new exclusions.
func (n *Node) UpdateCapture(c capture.Config) {
	n.mu.Lock()
	old := n.cfg.Capture
	n.cfg.Capture.ExcludeInboundPorts = c.ExcludeInboundPorts
	n.cfg.Capture.ExcludeOutboundPorts = c.ExcludeOutboundPorts
	n.cfg.Capture.ExcludeOutboundCIDRs = c.ExcludeOutboundCIDRs
	rules := n.cfg.Capture
	pods := make([]*podProxy, 0, len(n.pods))
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.mu.Unlock()
	if slices.Equal(old.ExcludeInboundPorts, c.ExcludeInboundPorts) && slices.Equal(old.ExcludeOutboundPorts, c.ExcludeOutboundPorts) &&
		slices.Equal(old.ExcludeOutboundCIDRs, c.ExcludeOutboundCIDRs) {
		return
	}
	for _, p := range pods {
		r := rules
		r.ExemptSources = append(slices.Clone(r.ExemptSources), gatewayPrefixes(p.ns)...)
		if err := capture.Install(p.ns, r); err != nil {
			p.log.Error(err, "updating capture rules; the previous rules stay")
		}
	}
}
