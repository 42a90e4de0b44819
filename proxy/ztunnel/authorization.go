package ztunnel

import (
	"net"
	"net/netip"

	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

// L4 authorization (docs/authorization.md): the destination ztunnel
// enforces the AuthorizationPolicies that select its pod (mesh-wide, by
// namespace and selector, and those attached to the pod's Services that use
// no waypoint) on every inbound connection, HBONE or plaintext. Policies
// compile into the snapshot; evaluating never allocates.

// authorizeInbound decides an inbound connection to dst from peer (zero for
// plaintext) at src; origin is the client a waypoint forwards for. It
// counts and logs denials.
func (p *podProxy) authorizeInbound(peer identity.ID, src netip.AddrPort, origin netip.Addr, dst netip.AddrPort) (*authz.L4Request, bool) {
	req := &authz.L4Request{Source: authz.Peer{Identity: peer, IP: src.Addr()}, Destination: dst}
	if origin.IsValid() {
		req.Origin = authz.Peer{IP: origin}
	}
	snap := p.n.snapshot()
	if snap == nil {
		return req, false // no policies known yet: fail closed
	}
	w := snap.WorkloadByUID(p.uid)
	if w == nil {
		return req, true // the pod is not in the API view yet: no policy can name it
	}
	ev := snap.Authorization(w)
	if ev == nil {
		return req, true
	}
	d := ev.L4(req)
	p.n.cfg.Metrics.authzDecision(&d)
	if !d.Allowed && p.n.denyLog.Allow() {
		p.log.Info("connection denied by authorization policy", "policy", policyKey(d.Policy), "rule", d.Rule,
			"reason", d.Reason.String(), "source", peer.String(), "sourceIP", src.Addr().String(), "destination", dst.String())
	}
	return req, d.Allowed
}

// reauthorize closes the open inbound connections the current policies
// deny; allowed ones are never touched. Run after every snapshot.
func (p *podProxy) reauthorize() {
	snap := p.n.snapshot()
	if snap == nil {
		return
	}
	w := snap.WorkloadByUID(p.uid)
	if w == nil {
		return
	}
	ev := snap.Authorization(w)
	p.mu.Lock()
	var deny []net.Conn
	for c, req := range p.inbound {
		if ev == nil {
			continue
		}
		if d := ev.L4(req); !d.Allowed {
			deny = append(deny, c)
			p.n.cfg.Metrics.authzDecision(&d)
		}
	}
	p.mu.Unlock()
	for _, c := range deny {
		p.log.Info("open connection closed: a policy update denies it", "connection", c.RemoteAddr().String())
		switch c := c.(type) {
		case *hbone.Stream:
			c.Reset()
		case *net.TCPConn:
			_ = c.SetLinger(0)
			_ = c.Close()
		default:
			_ = c.Close()
		}
	}
}

// trackInbound remembers an inbound connection's request while it is open.
func (p *podProxy) trackInbound(c net.Conn, req *authz.L4Request) func() {
	p.mu.Lock()
	p.inbound[c] = req
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.inbound, c)
		p.mu.Unlock()
	}
}

func policyKey(p *authz.Policy) string {
	if p == nil {
		return ""
	}
	return p.Key
}
