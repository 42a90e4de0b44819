package gateway

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// gatewayFacts is what the Accepted condition of a Gateway depends on.
type gatewayFacts struct {
	Generation int64
	// ClassRejected explains why our GatewayClass is not accepted.
	ClassRejected string
	// Conflict explains why the Waypoint of the same name cannot be used.
	Conflict string
	// InvalidFor explains a bad mesh.wayfabric.io/waypoint-for label.
	InvalidFor string
	// RequestedAddresses is true when spec.addresses is set.
	RequestedAddresses bool
	ValidListeners     int
	InvalidListeners   int
}

// gatewayAccepted is the Gateway's Accepted condition.
func gatewayAccepted(f gatewayFacts) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.GatewayConditionAccepted), ObservedGeneration: f.Generation}
	switch {
	case f.ClassRejected != "":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid), f.ClassRejected
	case f.Conflict != "":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid), f.Conflict
	case f.InvalidFor != "":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid), f.InvalidFor
	case f.RequestedAddresses:
		c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonUnsupportedAddress)
		c.Message = "spec.addresses is not supported: a waypoint's address is the ClusterIP of its Service"
	case f.ValidListeners == 0:
		c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonListenersNotValid)
		c.Message = fmt.Sprintf("no valid listener: a waypoint Gateway needs a listener with protocol %s on port %d", ProtocolHBONE, PortHBONE)
	case f.InvalidListeners > 0:
		// Spec: True with ListenersNotValid when the valid listeners still work.
		c.Status, c.Reason = metav1.ConditionTrue, string(gatewayv1.GatewayReasonListenersNotValid)
		c.Message = fmt.Sprintf("%d listener(s) are not valid and are ignored; see status.listeners", f.InvalidListeners)
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gatewayv1.GatewayReasonAccepted), "mirrored to a Waypoint of the same name"
	}
	return c
}

// gatewayProgrammed is the Gateway's Programmed condition: it follows the
// Waypoint's Ready condition.
func gatewayProgrammed(accepted metav1.Condition, wp *meshv1alpha1.Waypoint, generation int64) metav1.Condition {
	c := metav1.Condition{Type: string(gatewayv1.GatewayConditionProgrammed), ObservedGeneration: generation}
	if accepted.Status != metav1.ConditionTrue {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid), "Gateway is not accepted: "+accepted.Message
		return c
	}
	if wp == nil {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending), "waiting for the Waypoint to be created"
		return c
	}
	ready := meta.FindStatusCondition(wp.Status.Conditions, meshv1alpha1.ConditionReady)
	switch {
	case ready == nil:
		c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
		c.Message = fmt.Sprintf("Waypoint %s has not reported readiness yet", wp.Name)
	case ready.ObservedGeneration != 0 && ready.ObservedGeneration < wp.Generation:
		// A Ready from an older spec says nothing about the current one.
		c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
		c.Message = fmt.Sprintf("Waypoint %s has not observed its latest spec yet", wp.Name)
	case ready.Status == metav1.ConditionTrue:
		c.Status, c.Reason = metav1.ConditionTrue, string(gatewayv1.GatewayReasonProgrammed)
		c.Message = fmt.Sprintf("Waypoint %s is ready", wp.Name)
		if ready.Message != "" {
			c.Message += ": " + ready.Message
		}
	default:
		c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
		c.Message = fmt.Sprintf("Waypoint %s is not ready", wp.Name)
		if ready.Message != "" {
			c.Message += ": " + ready.Message
		}
	}
	return c
}

// gatewayAddresses are the ClusterIPs of the waypoint's Service, if it exists.
func gatewayAddresses(svc *corev1.Service) []gatewayv1.GatewayStatusAddress {
	if svc == nil {
		return nil
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []gatewayv1.GatewayStatusAddress
	for _, ip := range ips {
		if ip == "" || ip == corev1.ClusterIPNone {
			continue
		}
		out = append(out, gatewayv1.GatewayStatusAddress{Type: new(gatewayv1.IPAddressType), Value: ip})
	}
	return out
}
