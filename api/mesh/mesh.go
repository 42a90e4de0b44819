// Package mesh holds the facts every part of Wayfabric agrees on about mesh
// membership and the proxies' ports: the labels that enroll workloads and
// pick their waypoint, how those labels resolve, and the port contract. It
// is a leaf package (standard library only) so that the data plane can use it
// without pulling in the operator's dependencies.
package mesh

import "strings"

// Labels that enroll workloads in the mesh and select waypoints.
const (
	// LabelDataplaneMode on a Namespace or Pod enrolls it (value "ambient");
	// on a Pod, any other value opts the Pod out of its Namespace's mode.
	LabelDataplaneMode = "mesh.wayfabric.io/dataplane-mode"
	// DataplaneModeAmbient is the value of LabelDataplaneMode that enrolls.
	DataplaneModeAmbient = "ambient"
	// DataplaneModeNone opts a Pod out (mesh components label their own pods
	// with it: they terminate HBONE themselves and must not be captured).
	DataplaneModeNone = "none"
	// LabelUseWaypoint on a Namespace, Service or Pod names the waypoint its
	// traffic goes through (see UseWaypoint for the resolution).
	LabelUseWaypoint = "mesh.wayfabric.io/use-waypoint"
	// UseWaypointNone opts a Service or Pod out of a broader waypoint.
	UseWaypointNone = "none"
)

// Ports every ztunnel and waypoint pod serves (docs/operator.md).
const (
	// PortOutbound: captured outbound TCP (ztunnel).
	PortOutbound = 15001
	// PortInbound: captured inbound plaintext (ztunnel).
	PortInbound = 15006
	// PortHBONE: HTTP/2 CONNECT over mutual TLS (ztunnel and waypoint).
	PortHBONE = 15008
	// PortStats: Prometheus /metrics, and the waypoint's load report.
	PortStats = 15020
	// PortReadiness serves ReadinessPath; it fails as soon as draining starts.
	PortReadiness = 15021
	// ReadinessPath is the readiness endpoint on PortReadiness.
	ReadinessPath = "/healthz/ready"
	// PortCA is the manager's certificate authority (HTTPS).
	PortCA = 15012
)

// DefaultNamespace is the operator's namespace when its configuration names
// none (config/default uses it). The node proxies run there, so it is also
// the waypoint's default for whose identities may vouch for a client's
// address.
const DefaultNamespace = "wayfabric-system"

// NodeProxyAccountPrefix starts the service account name of every node
// proxy: the operator runs a ZtunnelConfig's ztunnels as ztunnel-<name> in
// its own namespace, where only it creates accounts.
const NodeProxyAccountPrefix = "ztunnel-"

// IsNodeProxy reports whether a workload identity (namespace and service
// account) is a node proxy's, the operator running in operatorNamespace.
// Node proxies act for the workloads of their node: the CA issues them their
// pods' certificates, and waypoints believe them about a client's address.
func IsNodeProxy(namespace, serviceAccount, operatorNamespace string) bool {
	return namespace == operatorNamespace && strings.HasPrefix(serviceAccount, NodeProxyAccountPrefix) &&
		len(serviceAccount) > len(NodeProxyAccountPrefix)
}

// Source names the object whose label decided a resolution.
type Source string

// Sources of a resolution, most specific first.
const (
	FromPod       Source = "Pod"
	FromService   Source = "Service"
	FromNamespace Source = "Namespace"
)

// UseWaypoint resolves the waypoint traffic goes through from the
// use-waypoint labels of a Pod, a Service and their Namespace; pass nil for
// an object that is not involved (no Pod for traffic addressed to a Service,
// no Service for traffic addressed to a Pod). The most specific label wins,
// Pod over Service over Namespace; the value "none" opts out, also of a
// broader label (name ""). An empty value counts as no label. from is the
// object whose label decided, "" when none has the label.
func UseWaypoint(pod, service, namespace map[string]string) (name string, from Source) {
	for _, l := range []struct {
		labels map[string]string
		from   Source
	}{{pod, FromPod}, {service, FromService}, {namespace, FromNamespace}} {
		switch v := l.labels[LabelUseWaypoint]; v {
		case "":
		case UseWaypointNone:
			return "", l.from
		default:
			return v, l.from
		}
	}
	return "", ""
}

// Enrolled reports whether a Pod is in the mesh from its own and its
// Namespace's dataplane-mode labels (pod nil when only the Namespace is
// known): a Pod label decides when set, else the Namespace's.
func Enrolled(pod, namespace map[string]string) bool {
	if v := pod[LabelDataplaneMode]; v != "" {
		return v == DataplaneModeAmbient
	}
	return namespace[LabelDataplaneMode] == DataplaneModeAmbient
}
