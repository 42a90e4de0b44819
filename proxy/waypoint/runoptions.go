package waypoint

import (
	"net/netip"
	"time"
)

// RunOptions are the settings of a waypoint process (cmd/waypoint's flags).
type RunOptions struct {
	// Namespace and Name of the Waypoint (or Gateway) this proxy serves.
	Namespace, Name string
	// ServiceAccount and TrustDomain make up this pod's SPIFFE identity.
	ServiceAccount, TrustDomain string
	// Kubeconfig is the API server's kubeconfig (empty: in-cluster config).
	Kubeconfig string
	// WaypointFor is the traffic this waypoint serves, as the Waypoint's
	// spec.for: "service" (Service VIPs), "workload" (pod IPs) or "all".
	WaypointFor string
	// NodeProxyNamespace is the namespace of the node proxies (ztunnels):
	// only their identities may set the client's address (Forwarded).
	NodeProxyNamespace string
	// StaticConfig, when set, is a YAML file read instead of the API server.
	StaticConfig string
	// Listen addresses; an empty HBONEAddr or DebugAddr disables that listener.
	HBONEAddr, StatsAddr, ReadyAddr, DebugAddr string
	// CAURL is the mesh CA; RootCertFile its trust bundle; TokenFile the
	// projected service-account token presented to it.
	CAURL, RootCertFile, TokenFile string
	// CAServerName is the name to verify in the CA's serving certificate
	// when CAURL names it otherwise (by IP, from outside the cluster);
	// empty: CAURL's host.
	CAServerName string
	// CertFile and KeyFile, when set, are a PEM workload certificate (with
	// this pod's identity) and its key, used instead of the CA (benchmarks,
	// running without a cluster).
	CertFile, KeyFile string
	// HBONEPeerPort is the port of in-mesh destinations' HBONE listeners
	// (0: hbone.Port, 15008).
	HBONEPeerPort uint16
	// Plaintext listeners serve plain TCP as if tunnelled to a destination.
	Plaintext []PlaintextListener
	// Drain is the time from SIGTERM to exit; DrainAccept the part of it
	// during which new streams are still accepted.
	Drain, DrainAccept time.Duration
	// MemoryLimitPercent of the container's memory limit is the Go soft
	// memory limit, followed through in-place resizes; 0 leaves it alone.
	MemoryLimitPercent int
}

// memoryLimitInterval is how often the container's memory limit is re-read.
const memoryLimitInterval = 10 * time.Second

// PlaintextListener serves plain TCP on Listen as if it had arrived through
// HBONE for Destination (benchmarks and debugging).
type PlaintextListener struct {
	Listen      string
	Destination netip.AddrPort
}

// drainTimes splits Drain: accept new streams for the first part, then wait
// for in-flight work, leaving a margin to exit before the kubelet's SIGKILL.
func (o *RunOptions) drainTimes() (accept, total time.Duration) {
	total = o.Drain
	accept = min(o.DrainAccept, total/2)
	return accept, total - min(total/10, time.Second)
}
