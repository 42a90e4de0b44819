package waypoint

import (
	"context"
	"net"
	"net/http"
	"net/netip"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// HBONEHandler serves CONNECT streams from ztunnels: a target that does not
// use this waypoint is refused with 503 before the tunnel opens, and a
// non-HTTP target whose authorization policies deny the peer with 403.
func (p *Proxy) HBONEHandler() hbone.Handler {
	return hbone.HandlerFunc(func(ctx context.Context, req *hbone.ConnectRequest, s *hbone.Stream) {
		if err := p.Accepts(req.Target); err != nil {
			_ = s.Reject(http.StatusServiceUnavailable)
			return
		}
		ctx = WithPeer(ctx, req.PeerIdentity)
		// The source is the trusted Forwarded claim (ServerConfig.TrustForwarded)
		// or the tunnel's own peer; either way never an unchecked claim.
		if src := req.Source(); src.IsValid() {
			ctx = WithSource(ctx, src)
		}
		ctx, ok := p.admitTunnel(ctx, req)
		if !ok {
			_ = s.Reject(http.StatusForbidden)
			return
		}
		if err := s.Accept(); err != nil {
			return
		}
		_ = p.ServeStream(ctx, s, req.Target)
	})
}

// clientNamespace is the namespace of the client workload a tunnel carries:
// the verified identity's. A node proxy presents its workloads' identities;
// were it to present its own, the client is unknown ("": producer routes).
func (p *Proxy) clientNamespace(peer identity.ID) string {
	if mesh.IsNodeProxy(peer.Namespace, peer.ServiceAccount, p.cfg.NodeProxyNamespace) {
		return ""
	}
	return peer.Namespace
}

// HBONEDialer opens tunnels to in-mesh endpoints, proving Source and
// requiring the endpoint's workload identity in TrustDomain.
type HBONEDialer struct {
	Client      *hbone.Client
	Source      identity.ID
	TrustDomain string
	// Port of the destination's HBONE listener (default hbone.Port, 15008).
	Port uint16
}

// DialStream implements StreamDialer.
func (d *HBONEDialer) DialStream(ctx context.Context, ep routing.Endpoint) (net.Conn, error) {
	peer, err := identity.New(d.TrustDomain, ep.Namespace, ep.ServiceAccount)
	if err != nil {
		return nil, err
	}
	req := hbone.DialRequest{Target: ep.Addr, SourceIdentity: d.Source, PeerIdentity: peer}
	if d.Port != 0 {
		req.Proxy = netip.AddrPortFrom(ep.Addr.Addr(), d.Port)
	}
	return d.Client.Dial(ctx, req)
}
