package routing

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
)

type backendKey struct {
	svc  types.NamespacedName
	port int32
	// invalid references are cached by reason too, so distinct reasons are kept.
	reason string
}

// index is the lookup state shared by one compilation.
type index struct {
	in        *Input
	nsLabels  map[string]map[string]string
	services  map[types.NamespacedName]*corev1.Service
	slices    map[types.NamespacedName][]*discoveryv1.EndpointSlice
	backends  map[backendKey]*Backend
	grantsFor map[string][]*gwv1.ReferenceGrant // by grant namespace
	// podLabels and podPorts come from Input.Workloads and the EndpointSlices:
	// a pod's own labels, and the Service ports its target ports serve.
	podLabels map[types.NamespacedName]map[string]string
	podPorts  map[types.NamespacedName]map[uint16]*corev1.ServicePort
}

func newIndex(in *Input) *index {
	ix := &index{
		in:        in,
		nsLabels:  map[string]map[string]string{},
		services:  map[types.NamespacedName]*corev1.Service{},
		slices:    map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		backends:  map[backendKey]*Backend{},
		grantsFor: map[string][]*gwv1.ReferenceGrant{},
		podLabels: map[types.NamespacedName]map[string]string{},
	}
	for i := range in.Workloads {
		w := &in.Workloads[i]
		ix.podLabels[types.NamespacedName{Namespace: w.Namespace, Name: w.Name}] = w.Labels
	}
	for _, ns := range in.Namespaces {
		if ns != nil {
			ix.nsLabels[ns.Name] = ns.Labels
		}
	}
	for _, s := range in.Services {
		if s != nil {
			ix.services[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
		}
	}
	for _, es := range in.EndpointSlices {
		if es == nil || es.Labels[labelServiceName] == "" {
			continue
		}
		k := types.NamespacedName{Namespace: es.Namespace, Name: es.Labels[labelServiceName]}
		ix.slices[k] = append(ix.slices[k], es)
	}
	for _, g := range in.ReferenceGrants {
		if g != nil {
			ix.grantsFor[g.Namespace] = append(ix.grantsFor[g.Namespace], g)
		}
	}
	if in.Waypoint.servesWorkloads() {
		ix.podPorts = ix.servicePortsByPod()
	}
	return ix
}

// servicePortsByPod maps each pod of the waypoint's namespace to the Service
// ports whose EndpointSlices name it, by target port, so workload traffic to
// a declared port is read as its Service declares (first Service wins).
func (ix *index) servicePortsByPod() map[types.NamespacedName]map[uint16]*corev1.ServicePort {
	out := map[types.NamespacedName]map[uint16]*corev1.ServicePort{}
	for svcName, slices := range ix.slices {
		svc := ix.services[svcName]
		if svc == nil || svcName.Namespace != ix.in.Waypoint.Namespace {
			continue
		}
		for _, es := range slices {
			for _, p := range es.Ports {
				if p.Port == nil || (p.Protocol != nil && !protocolTCP(*p.Protocol)) {
					continue
				}
				var sp *corev1.ServicePort
				for i := range svc.Spec.Ports {
					if svc.Spec.Ports[i].Name == ptrStr(p.Name) {
						sp = &svc.Spec.Ports[i]
					}
				}
				if sp == nil {
					continue
				}
				for _, ep := range es.Endpoints {
					if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
						k := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
						if out[k] == nil {
							out[k] = map[uint16]*corev1.ServicePort{}
						}
						if _, taken := out[k][uint16(*p.Port)]; !taken {
							out[k][uint16(*p.Port)] = sp
						}
					}
				}
			}
		}
	}
	return out
}

// inMeshPod: a pod is in the mesh by its own dataplane-mode label, else by
// its namespace's (mesh.Enrolled).
func (ix *index) inMeshPod(pod types.NamespacedName) bool {
	return mesh.Enrolled(ix.podLabels[pod], ix.nsLabels[pod.Namespace])
}

// usesWaypoint reports whether the Service's traffic goes through this
// waypoint, by the mesh's one resolution rule (mesh.UseWaypoint).
func (ix *index) usesWaypoint(s *corev1.Service) bool {
	wp := ix.in.Waypoint
	name, _ := mesh.UseWaypoint(nil, s.Labels, ix.nsLabels[s.Namespace])
	return s.Namespace == wp.Namespace && name == wp.Name
}

// inMesh: endpoints in an enrolled namespace are reached over HBONE.
func (ix *index) inMesh(ns string) bool {
	return mesh.Enrolled(nil, ix.nsLabels[ns])
}

// referrer is the route a backend reference comes from.
type referrer struct {
	namespace string
	kind      string // kindHTTPRoute or kindGRPCRoute, as ReferenceGrants name it
	// noGrant: the reference needs no ReferenceGrant. GEP-1294 lets mesh
	// routes reach any namespace; Wayfabric uses that only for consumer
	// routes, which change nobody's traffic but their own namespace's. A
	// producer route would send every client's requests, with the waypoint's
	// identity, into the other namespace, so that namespace must agree.
	noGrant bool
}

// referencePermitted reports whether a route may refer to the Service svc
// (ReferenceGrant, Gateway API "Cross Namespace" rules).
func (ix *index) referencePermitted(from referrer, svc types.NamespacedName) bool {
	if from.namespace == svc.Namespace || from.noGrant {
		return true
	}
	for _, g := range ix.grantsFor[svc.Namespace] {
		fromOK := false
		for _, f := range g.Spec.From {
			if string(f.Group) == gatewayAPIGroup && string(f.Kind) == from.kind && string(f.Namespace) == from.namespace {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range g.Spec.To {
			if (t.Group == "" || t.Group == "core") && t.Kind == "Service" && (t.Name == nil || string(*t.Name) == svc.Name) {
				return true
			}
		}
	}
	return false
}

func (ix *index) invalid(svc types.NamespacedName, port int32, reason string) *Backend {
	k := backendKey{svc: svc, port: port, reason: reason}
	if b := ix.backends[k]; b != nil {
		return b
	}
	b := &Backend{Service: svc, Port: port, Invalid: reason}
	ix.backends[k] = b
	return b
}

// resolve turns a backend reference of a route into a Backend. Invalid
// references still yield a Backend (with Invalid set) so that their share of
// traffic gets a 500, as the spec requires.
func (ix *index) resolve(from referrer, ref gwv1.BackendObjectReference) *Backend {
	routeNS := from.namespace
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	svcName := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	port := int32(0)
	if ref.Port != nil {
		port = *ref.Port
	}
	if ref.Group != nil && *ref.Group != "" && *ref.Group != "core" {
		return ix.invalid(svcName, port, fmt.Sprintf("backend %s: unsupported group %q", svcName, *ref.Group))
	}
	if ref.Kind != nil && *ref.Kind != "Service" {
		return ix.invalid(svcName, port, fmt.Sprintf("backend %s: unsupported kind %q", svcName, *ref.Kind))
	}
	if port == 0 {
		return ix.invalid(svcName, port, fmt.Sprintf("backend %s: port is required for a Service", svcName))
	}
	if !ix.referencePermitted(from, svcName) {
		return ix.invalid(svcName, port, fmt.Sprintf("backend %s: reference from namespace %s not permitted by any ReferenceGrant", svcName, routeNS))
	}
	k := backendKey{svc: svcName, port: port}
	if b := ix.backends[k]; b != nil {
		return b
	}
	svc := ix.services[svcName]
	if svc == nil {
		return ix.invalid(svcName, port, fmt.Sprintf("backend %s: service not found", svcName))
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port && protocolTCP(svc.Spec.Ports[i].Protocol) {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return ix.invalid(svcName, port, fmt.Sprintf("backend %s: service has no TCP port %d", svcName, port))
	}
	b := &Backend{Service: svcName, Port: port, H2C: isH2C(sp), FollowClient: undeclaredHTTPVersion(sp), Endpoints: ix.endpoints(svcName, sp)}
	ix.backends[k] = b
	return b
}

func protocolTCP(p corev1.Protocol) bool { return p == "" || p == corev1.ProtocolTCP }

// endpoints lists ready, non-terminating addresses of the service port, by
// port name as EndpointSlices publish them. Duplicates across slices are dropped.
func (ix *index) endpoints(svc types.NamespacedName, sp *corev1.ServicePort) []Endpoint {
	inMesh := ix.inMesh(svc.Namespace)
	seen := map[netip.AddrPort]bool{}
	var out []Endpoint
	for _, es := range ix.slices[svc] {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range es.Ports {
			if p.Port != nil && ptrStr(p.Name) == sp.Name && (p.Protocol == nil || protocolTCP(*p.Protocol)) {
				port = *p.Port
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
				if !seen[ap] {
					seen[ap] = true
					out = append(out, Endpoint{Addr: ap, InMesh: ix.endpointInMesh(ep, inMesh), Namespace: svc.Namespace, ServiceAccount: ix.serviceAccount(ep)})
				}
			}
		}
	}
	return out
}

// endpointInMesh: a pod's own label overrides its namespace's (mesh.Enrolled).
func (ix *index) endpointInMesh(ep discoveryv1.Endpoint, nsInMesh bool) bool {
	if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
		if pod := ix.podLabels[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}]; pod[mesh.LabelDataplaneMode] != "" {
			return mesh.Enrolled(pod, nil)
		}
	}
	return nsInMesh
}

func (ix *index) serviceAccount(ep discoveryv1.Endpoint) string {
	if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
		if sa := ix.in.PodServiceAccounts[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}]; sa != "" {
			return sa
		}
	}
	return "default"
}

func ptrStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// isH2C: the port declares cleartext HTTP/2 (Kubernetes appProtocol values).
func isH2C(sp *corev1.ServicePort) bool {
	switch ptrStr(sp.AppProtocol) {
	case "kubernetes.io/h2c", "h2c", "http2", "grpc":
		return true
	}
	return strings.HasPrefix(sp.Name, "http2") || strings.HasPrefix(sp.Name, "grpc")
}

// undeclaredHTTPVersion: the port says nothing of the HTTP version
// (no appProtocol, and a name that is neither http* nor grpc*), so the
// upstream request keeps the client's.
func undeclaredHTTPVersion(sp *corev1.ServicePort) bool {
	if ptrStr(sp.AppProtocol) != "" {
		return false
	}
	name := strings.ToLower(sp.Name)
	return !strings.HasPrefix(name, "http") && !strings.HasPrefix(name, "grpc")
}

// portProtocol decides how to read traffic to a service port.
func portProtocol(sp *corev1.ServicePort) Protocol {
	ap := strings.ToLower(ptrStr(sp.AppProtocol))
	switch {
	case ap == "http" || ap == "kubernetes.io/h2c" || ap == "h2c" || ap == "http2" || ap == "grpc":
		return ProtocolHTTP
	case ap != "":
		return ProtocolTCP
	}
	name := strings.ToLower(sp.Name)
	for _, p := range []string{"http", "grpc"} {
		if name == p || strings.HasPrefix(name, p+"-") || strings.HasPrefix(name, p+"2") {
			return ProtocolHTTP
		}
	}
	for _, p := range []string{"tcp", "tls", "https", "mysql", "mongo", "redis"} {
		if name == p || strings.HasPrefix(name, p+"-") {
			return ProtocolTCP
		}
	}
	return ProtocolSniff
}
