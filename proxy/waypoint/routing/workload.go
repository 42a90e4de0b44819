package routing

import (
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

// workload is a pod this waypoint serves by address (Waypoint.For workload
// or all): traffic to the pod's IP and any port. GAMMA routes do not apply
// (GEP-1294: a request to a Service backend such as a pod IP does not use
// the Service's routes), so each port forwards to the pod itself.
type workload struct {
	pod            types.NamespacedName
	serviceAccount string
	inMesh         bool
	addr           netip.Addr
	// ports the pod's Services declare a protocol for (target port -> port).
	ports map[uint16]*corev1.ServicePort
	// authz is what the waypoint enforces on traffic to the pod (nil: nothing).
	authz *authz.Evaluator
	// dests caches one immutable Destination per port used.
	dests sync.Map // uint16 -> *Destination
}

// destination returns the Destination for one port of the pod.
func (w *workload) destination(port uint16) *Destination {
	if d, ok := w.dests.Load(port); ok {
		return d.(*Destination)
	}
	d := &Destination{Service: w.pod, ServiceLabel: w.pod.String(), Port: int32(port), Workload: true, Protocol: ProtocolSniff, Authz: w.authz}
	b := &Backend{Service: w.pod, Port: int32(port), FollowClient: true}
	if sp := w.ports[port]; sp != nil {
		d.Protocol = portProtocol(sp)
		b.H2C, b.FollowClient = isH2C(sp), undeclaredHTTPVersion(sp)
	}
	b.Endpoints = []Endpoint{{Addr: netip.AddrPortFrom(w.addr, port), InMesh: w.inMesh,
		Namespace: w.pod.Namespace, ServiceAccount: w.serviceAccount}}
	d.Self = b
	d.producer = matcherSet{ms: []*matcher{defaultMatcherTo(b)}}
	actual, _ := w.dests.LoadOrStore(port, d)
	return actual.(*Destination)
}

// compileWorkloads lists the pods of the waypoint's namespace that use it,
// by address, when the waypoint serves workload traffic; az is enforced on
// their traffic.
func compileWorkloads(ix *index, az *authz.Evaluator) map[netip.Addr]*workload {
	wp := ix.in.Waypoint
	if !wp.servesWorkloads() {
		return nil
	}
	out := map[netip.Addr]*workload{}
	for i := range ix.in.Workloads {
		p := &ix.in.Workloads[i]
		if p.Namespace != wp.Namespace || !ix.podUsesWaypoint(p) || len(p.IPs) == 0 {
			continue
		}
		key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		sa := p.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		for _, a := range p.IPs {
			// One workload per address: the endpoint is the address the
			// tunnel was opened to, of the same family.
			a = a.Unmap()
			out[a] = &workload{pod: key, serviceAccount: sa, inMesh: ix.inMeshPod(key), ports: ix.podPorts[key], addr: a, authz: az}
		}
	}
	return out
}

// podUsesWaypoint: traffic addressed to the pod goes through this waypoint
// by the mesh's one resolution rule (mesh.UseWaypoint; no Service involved).
func (ix *index) podUsesWaypoint(p *Workload) bool {
	name, _ := mesh.UseWaypoint(p.Labels, nil, ix.nsLabels[p.Namespace])
	return name == ix.in.Waypoint.Name
}
