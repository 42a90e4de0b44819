package ztunnel

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
)

// dialTimeout bounds how long a new connection waits for its upstream.
const dialTimeout = 10 * time.Second

// serveOutbound carries one connection the pod opened: to the
// destination's waypoint or the destination pod over HBONE, or in plain
// TCP when the destination is not in the mesh.
func (p *podProxy) serveOutbound(c *net.TCPConn) {
	defer c.Close()
	dst, err := netns.OriginalDst(c)
	if err != nil {
		p.refuse(c, outbound, "no_original_destination", err)
		return
	}
	src, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	snap := p.n.snapshot()
	if snap == nil {
		p.refuse(c, outbound, "not_synced", nil)
		return
	}
	r := snap.Resolve(dst)
	if dst.Port() == p.n.cfg.Capture.HBONEPort && r.Kind != discovery.Refuse {
		// The application speaks HBONE itself (it brings its own mTLS):
		// tunnelling it again would only hide it from its peer.
		r = discovery.Route{Kind: discovery.Passthrough, Target: dst, Reason: "application_hbone"}
	}
	log := p.log.WithValues("src", src.String(), "dst", dst.String(), "route", r.Kind.String())
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	var up net.Conn
	switch r.Kind {
	case discovery.Refuse:
		cancel()
		p.refuse(c, outbound, r.Reason, nil)
		log.V(1).Info("outbound connection refused", "reason", r.Reason)
		return
	case discovery.Passthrough:
		up, err = p.ns.DialTCP(ctx, r.Target, netns.DialOptions{Mark: p.n.cfg.Capture.BypassMark})
	default:
		var peer identity.ID
		peer, err = identity.New(p.id.TrustDomain, r.PeerNamespace, r.PeerServiceAccount)
		if err == nil {
			log = log.WithValues("peer", peer.String(), "proxy", r.Proxy.String())
			up, err = p.client.Dial(ctx, hbone.DialRequest{Target: r.Target, Proxy: r.Proxy,
				SourceIdentity: p.id, PeerIdentity: peer, Forwarded: src})
		}
	}
	cancel()
	if err != nil {
		p.refuse(c, outbound, dialFailure(err), err)
		log.Info("outbound connection failed", "error", err.Error())
		return
	}
	p.relay(outbound, r.Kind.String(), c, up, log)
}

// dialFailure names a failed dial for the errors metric.
func dialFailure(err error) string {
	var ce *hbone.ConnectError
	switch {
	case asConnectError(err, &ce):
		return "peer_status_" + itoa(ce.Status)
	case identity.ReasonOf(err) != "":
		return "tls_" + string(identity.ReasonOf(err))
	case isTimeout(err):
		return "timeout"
	}
	return "dial_failed"
}
