package gateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// waypointFor maps the Gateway's mesh.wayfabric.io/waypoint-for label to
// spec.for; no label means service, as in Istio.
func waypointFor(gw *gatewayv1.Gateway) (meshv1alpha1.TrafficType, error) {
	v, ok := gw.Labels[LabelWaypointFor]
	if !ok || v == "" {
		return meshv1alpha1.TrafficService, nil
	}
	switch t := meshv1alpha1.TrafficType(v); t {
	case meshv1alpha1.TrafficService, meshv1alpha1.TrafficWorkload, meshv1alpha1.TrafficAll:
		return t, nil
	}
	return "", fmt.Errorf("label %s=%q is invalid: use service, workload or all", LabelWaypointFor, v)
}

// desiredWaypoint is the Waypoint a Gateway is mirrored to. Only spec.for is
// set: everything else (version, replicas, autoscaling) keeps its defaults and
// belongs to whoever edits the Waypoint.
func desiredWaypoint(gw *gatewayv1.Gateway, forType meshv1alpha1.TrafficType) *meshv1alpha1.Waypoint {
	return &meshv1alpha1.Waypoint{
		ObjectMeta: metav1.ObjectMeta{
			Name:      gw.Name,
			Namespace: gw.Namespace,
			Labels: map[string]string{
				gatewayv1.GatewayNameLabelKey:      gw.Name,
				gatewayv1.GatewayClassNameLabelKey: string(gw.Spec.GatewayClassName),
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(gw, schema.GroupVersion(gatewayv1.GroupVersion).WithKind(kindGateway))},
		},
		Spec: meshv1alpha1.WaypointSpec{For: forType},
	}
}

// waypointConflict says why an existing Waypoint cannot be mirrored from gw,
// or "" when gw controls it. A Waypoint someone else made is never adopted.
func waypointConflict(gw *gatewayv1.Gateway, wp *meshv1alpha1.Waypoint) string {
	if wp == nil {
		return ""
	}
	if ref := metav1.GetControllerOf(wp); ref != nil && ref.UID == gw.UID {
		return ""
	}
	return fmt.Sprintf("Waypoint %s/%s already exists and is not managed by this Gateway; it is left untouched. Delete that Waypoint or give the Gateway another name", wp.Namespace, wp.Name)
}
