package hbone

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

// TrustMeshComponents is a ServerConfig.TrustForwarded that believes the
// Forwarded header only from mesh components, which set it on a workload's
// behalf: node proxies (mesh.IsNodeProxy, the operator in nodeProxyNamespace)
// and, for the hop after a waypoint, waypoints (isWaypoint; nil: none).
// An ordinary workload's claim about its source is never believed.
func TrustMeshComponents(nodeProxyNamespace string, isWaypoint func(identity.ID) bool) func(identity.ID) bool {
	return func(peer identity.ID) bool {
		if mesh.IsNodeProxy(peer.Namespace, peer.ServiceAccount, nodeProxyNamespace) {
			return true
		}
		return isWaypoint != nil && isWaypoint(peer)
	}
}

// Source is the original client of a CONNECT: the trusted Forwarded source,
// else the tunnel's TCP peer. With in-pod capture the node proxy dials from
// inside the client pod's network namespace, so that peer is the pod.
func (r *ConnectRequest) Source() netip.AddrPort {
	if r.Forwarded.IsValid() {
		return r.Forwarded
	}
	if ta, ok := r.TunnelRemote.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// FormatForwarded renders the RFC 7239 Forwarded value naming the original
// source; addresses with a port (and all IPv6) are quoted as required.
func FormatForwarded(src netip.AddrPort) string {
	if src.Port() == 0 {
		if src.Addr().Is6() {
			return `for="[` + src.Addr().String() + `]"`
		}
		return "for=" + src.Addr().String()
	}
	return `for="` + src.String() + `"`
}

// ParseForwarded returns the for= source of the first element of a
// Forwarded header. A missing port yields port 0.
func ParseForwarded(v string) (netip.AddrPort, error) {
	first, _, _ := strings.Cut(v, ",")
	for pair := range strings.SplitSeq(first, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(k, "for") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if ap, err := netip.ParseAddrPort(val); err == nil {
			return ap, nil
		}
		if strings.HasPrefix(val, "[") && strings.HasSuffix(val, "]") {
			val = val[1 : len(val)-1]
		}
		a, err := netip.ParseAddr(val)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("forwarded for=%q: not an IP address", val)
		}
		return netip.AddrPortFrom(a, 0), nil
	}
	return netip.AddrPort{}, fmt.Errorf("forwarded %q: no for= parameter", v)
}
