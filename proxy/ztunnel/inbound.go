package ztunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// servePlaintextInbound delivers a plaintext connection that arrived for
// the pod. Only sources outside the mesh may send plaintext: an enrolled
// pod must come over HBONE, so a plaintext connection claiming to be one
// is refused (it would bypass mutual TLS and policy).
func (p *podProxy) servePlaintextInbound(c *net.TCPConn) {
	defer c.Close()
	dst, err := netns.OriginalDst(c)
	if err != nil {
		p.refuse(c, inbound, "no_original_destination", err)
		return
	}
	src, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	log := p.log.WithValues("src", src.String(), "dst", dst.String(), "route", "plaintext")
	if p.n.reservedPort(dst.Port()) {
		p.refuse(c, inbound, "reserved_port", nil)
		return
	}
	if snap := p.n.snapshot(); snap != nil && snap.Enrolled(snap.WorkloadByIP(src.Addr())) {
		p.refuse(c, inbound, "plaintext_from_mesh", nil)
		log.Info("plaintext connection from an enrolled pod refused: mesh traffic must arrive over HBONE")
		return
	}
	areq, ok := p.authorizeInbound(identity.ID{}, src, netip.Addr{}, dst)
	if !ok {
		p.refuse(c, inbound, "denied_by_policy", nil)
		return
	}
	defer p.trackInbound(c, areq)()
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	// The client's own port would give the transparent connection the
	// redirected connection's 4-tuple, which conntrack sends back here.
	up, err := p.dialLocal(ctx, dst, src.Addr(), src.Port())
	cancel()
	if err != nil {
		p.refuse(c, inbound, "application_unreachable", err)
		return
	}
	p.relay(inbound, "plaintext", c, up, log)
}

// ServeHBONE serves a CONNECT stream that arrived on the pod's :15008. The
// TLS layer already verified the peer (see authorizePeer).
func (p *podProxy) ServeHBONE(ctx context.Context, req *hbone.ConnectRequest, s *hbone.Stream) {
	log := p.log.WithValues("peer", req.PeerIdentity.String(), "dst", req.Target.String(), "route", "hbone")
	if !slices.Contains(p.ips, req.Target.Addr().Unmap()) || p.n.reservedPort(req.Target.Port()) {
		// Never a relay to somewhere else, never a loop into our own listeners.
		p.n.cfg.Metrics.errors.WithLabelValues(inbound, "target_not_this_pod", p.key.Namespace, p.workload).Inc()
		log.Info("CONNECT refused: the target is not an application port of this pod")
		_ = s.Reject(http.StatusBadRequest)
		return
	}
	src, origin := p.clientSource(req)
	log = log.WithValues("src", src.String())
	tunnelSrc, _ := netip.ParseAddrPort(req.TunnelRemote.String())
	areq, ok := p.authorizeInbound(req.PeerIdentity, netip.AddrPortFrom(tunnelSrc.Addr().Unmap(), tunnelSrc.Port()), origin, req.Target)
	if !ok {
		p.n.cfg.Metrics.errors.WithLabelValues(inbound, "denied_by_policy", p.key.Namespace, p.workload).Inc()
		_ = s.Reject(http.StatusForbidden)
		return
	}
	defer p.trackInbound(s, areq)()
	p.track(s, true, true)
	defer p.track(s, false, false)
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	up, err := p.dialLocal(dctx, req.Target, src.Addr(), 0)
	cancel()
	if err != nil {
		p.n.cfg.Metrics.errors.WithLabelValues(inbound, "application_unreachable", p.key.Namespace, p.workload).Inc()
		log.V(1).Info("CONNECT refused: the application did not accept", "error", err.Error())
		_ = s.Reject(http.StatusServiceUnavailable)
		return
	}
	if err := s.Accept(); err != nil {
		_ = up.Close()
		return
	}
	p.relay(inbound, "hbone", s, up, log)
}

// clientSource is the address the application should see as its client:
// the tunnel's own source (ztunnels dial from inside the client pod, so it
// is the client pod's address), or, when the peer is a waypoint, the
// original client it forwards for (also returned as origin, for policy).
// A Forwarded header from anyone else is ignored: any workload could claim
// any address.
func (p *podProxy) clientSource(req *hbone.ConnectRequest) (src netip.AddrPort, origin netip.Addr) {
	tunnel, _ := netip.ParseAddrPort(req.TunnelRemote.String())
	tunnel = netip.AddrPortFrom(tunnel.Addr().Unmap(), 0)
	if req.Forwarded.IsValid() {
		if snap := p.n.snapshot(); snap != nil && snap.IsWaypointIdentity(req.PeerIdentity.Namespace, req.PeerIdentity.ServiceAccount) {
			o := req.Forwarded.Addr().Unmap()
			return netip.AddrPortFrom(o, 0), o
		}
	}
	return tunnel, netip.Addr{}
}

// authorizePeer decides at the TLS handshake which identities may open
// tunnels to the pod: any identity of the trust domain, or, when the pod
// is behind waypoints, only those waypoints (the mesh must not let a
// client skip the policy its waypoint applies).
func (p *podProxy) authorizePeer(peer identity.ID) error {
	if peer.TrustDomain != p.id.TrustDomain {
		return fmt.Errorf("peer %s is not in trust domain %s", peer, p.id.TrustDomain)
	}
	snap := p.n.snapshot()
	if snap == nil {
		return errors.New("ztunnel has not synced with the API yet")
	}
	w := snap.WorkloadByUID(p.uid)
	if w == nil {
		return nil // not in the cache yet (a pod being created): no waypoint known
	}
	wps := snap.WaypointsFor(w)
	if len(wps) == 0 {
		return nil
	}
	for _, wp := range wps {
		if peer.Namespace == wp.Namespace && peer.ServiceAccount == wp.Name {
			return nil
		}
	}
	return fmt.Errorf("%s is behind waypoint %s; only the waypoint may send it mesh traffic, not %s", p.key, wps[0], peer)
}

// dialLocal connects to the application from inside its namespace. With
// the transparent mark the connection carries the client's address as its
// source (the application sees who called); where the kernel refuses that
// (no IP_TRANSPARENT, an address the pod owns) it falls back to the
// pod's own address.
func (p *podProxy) dialLocal(ctx context.Context, target netip.AddrPort, client netip.Addr, avoidPort uint16) (net.Conn, error) {
	cfg := p.n.cfg.Capture
	if client.IsValid() && !slices.Contains(p.ips, client) && !client.IsLoopback() && client.Is4() == target.Addr().Is4() {
		c, err := p.ns.DialTCP(ctx, target, netns.DialOptions{Mark: cfg.TransparentMark,
			Source: netip.AddrPortFrom(client, 0), Transparent: true, AvoidSourcePort: avoidPort})
		if err == nil {
			return c, nil
		}
		if !transparentUnsupported(err) {
			return nil, err
		}
		p.n.warnTransparent.Do(func() {
			p.log.Info("cannot preserve client addresses (IP_TRANSPARENT refused); applications see the pod's own address", "error", err.Error())
		})
	}
	return p.ns.DialTCP(ctx, target, netns.DialOptions{Mark: cfg.BypassMark})
}

func transparentUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EADDRNOTAVAIL) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EINVAL)
}

var _ hbone.Handler = (*podProxy)(nil)
