// Package membership is the one statement of who is in the mesh and which
// waypoint their traffic uses, read from labels. It is pure and depends on
// nothing but the standard library, so the operator, the waypoint, the
// ztunnel and the CNI plugin (a small binary) all decide the same way.
package membership

// Labels that enroll workloads and select waypoints.
const (
	// LabelDataplaneMode on a Namespace or Pod enrolls it (value "ambient");
	// on a Pod, "none" opts it out of an enrolled namespace.
	LabelDataplaneMode = "mesh.wayfabric.io/dataplane-mode"
	// DataplaneAmbient enrolls.
	DataplaneAmbient = "ambient"
	// DataplaneNone opts out.
	DataplaneNone = "none"
	// LabelUseWaypoint on a Namespace, Service or Pod names the waypoint its
	// traffic goes through; the Service or Pod label wins over the Namespace.
	LabelUseWaypoint = "mesh.wayfabric.io/use-waypoint"
	// UseWaypointNone opts a Service or Pod out of a namespace-wide waypoint.
	UseWaypointNone = "none"
)

// Enrolled reports whether a pod is in the mesh: its own dataplane-mode
// label decides when it has one, else its namespace's. Only "ambient"
// enrolls; any other value (including "none") keeps the pod out.
func Enrolled(podLabels, namespaceLabels map[string]string) bool {
	if v, ok := podLabels[LabelDataplaneMode]; ok {
		return v == DataplaneAmbient
	}
	return namespaceLabels[LabelDataplaneMode] == DataplaneAmbient
}

// Waypoint returns the name of the waypoint (in the object's namespace) that
// traffic to an object goes through, or "" for none. own is the label set
// of the Service or Pod addressed; its use-waypoint label wins, and "none"
// opts out of the namespace's.
func Waypoint(own, namespaceLabels map[string]string) string {
	v, ok := own[LabelUseWaypoint]
	if !ok {
		v = namespaceLabels[LabelUseWaypoint]
	}
	if v == UseWaypointNone {
		return ""
	}
	return v
}
