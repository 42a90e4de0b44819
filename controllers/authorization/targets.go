package authorization

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/usewaypoint"
)

// resolveTargets finds, for each targetRef, who enforces the policy there.
func (r *Reconciler) resolveTargets(ctx context.Context, p *meshv1alpha1.AuthorizationPolicy) ([]Target, error) {
	var out []Target
	for _, ref := range p.Spec.TargetRefs {
		t := Target{Ref: ref}
		var err error
		switch {
		case ref.Namespace != "" && ref.Namespace != p.Namespace:
			t.Problem = fmt.Sprintf("%s %s: targetRefs must be in the policy's namespace %s, not %s", ref.Kind, ref.Name, p.Namespace, ref.Namespace)
		case ref.Kind == "Service" && (ref.Group == "" || ref.Group == "core"):
			err = r.serviceTarget(ctx, p.Namespace, &t)
		case ref.Kind == "Waypoint" && ref.Group == meshv1alpha1.GroupVersion.Group:
			err = r.waypointTarget(ctx, p.Namespace, &t)
		case ref.Kind == "Gateway" && ref.Group == "gateway.networking.k8s.io":
			err = r.gatewayTarget(ctx, p.Namespace, &t)
		default:
			t.Problem = fmt.Sprintf("%s %s (group %q) is not a supported target", ref.Kind, ref.Name, ref.Group)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (r *Reconciler) serviceTarget(ctx context.Context, ns string, t *Target) error {
	var svc corev1.Service
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.Ref.Name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			t.Problem = fmt.Sprintf("Service %s does not exist", t.Ref.Name)
			return nil
		}
		return fmt.Errorf("reading Service %s/%s: %w", ns, t.Ref.Name, err)
	}
	var nsObj corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Namespace %s: %w", ns, err)
	}
	name, source := usewaypoint.ForService(svc.Labels, nsObj.Labels)
	if name == "" {
		t.NoWaypoint = source
		return nil
	}
	var wp meshv1alpha1.Waypoint
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &wp); err != nil {
		if apierrors.IsNotFound(err) {
			t.NoWaypoint = fmt.Sprintf("%s names Waypoint %s, which does not exist", source, name)
			return nil
		}
		return fmt.Errorf("reading Waypoint %s/%s: %w", ns, name, err)
	}
	if wp.Spec.For == meshv1alpha1.TrafficWorkload {
		t.NoWaypoint = fmt.Sprintf("its Waypoint %s is for workload traffic only", name)
		return nil
	}
	t.Waypoint = ns + "/" + name
	return nil
}

func (r *Reconciler) waypointTarget(ctx context.Context, ns string, t *Target) error {
	var wp meshv1alpha1.Waypoint
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.Ref.Name}, &wp); err != nil {
		if apierrors.IsNotFound(err) {
			t.Problem = fmt.Sprintf("Waypoint %s does not exist", t.Ref.Name)
			return nil
		}
		return fmt.Errorf("reading Waypoint %s/%s: %w", ns, t.Ref.Name, err)
	}
	t.Waypoint = ns + "/" + wp.Name
	return nil
}

// gatewayTarget resolves a Gateway through the Waypoint of the same name (a
// Gateway of class wayfabric-waypoint creates it), as the waypoint does: no
// Gateway API CRD is needed.
func (r *Reconciler) gatewayTarget(ctx context.Context, ns string, t *Target) error {
	var wp meshv1alpha1.Waypoint
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.Ref.Name}, &wp)
	switch {
	case apierrors.IsNotFound(err):
		t.Problem = fmt.Sprintf("Gateway %s has no Waypoint of the same name (a Gateway of class wayfabric-waypoint creates one)", t.Ref.Name)
		return nil
	case err != nil:
		return fmt.Errorf("reading Waypoint %s/%s: %w", ns, t.Ref.Name, err)
	}
	t.Waypoint = ns + "/" + wp.Name
	return nil
}
