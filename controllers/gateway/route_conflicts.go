package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// conflictFacts fills in the GRPCRoutes an HTTPRoute conflicts with on one
// parent. GEP-1294: when routes of both kinds bind the same Service port
// only the GRPCRoutes apply (the waypoint drops the HTTPRoutes there); for
// a Service parent that counts the routes of the same group (the Service's
// producer routes, or one namespace's consumer routes). A Waypoint's (or
// its Gateway's) routes apply to all its Services' ports, so any GRPCRoute
// attached to it takes precedence.
func (r *RouteReconciler) conflictFacts(ctx context.Context, route routeView, ref gatewayv1.ParentReference, kind parentKind, key types.NamespacedName, f *parentFacts) error {
	if r.Kind.Kind != kindHTTPRoute || !r.GRPCServed || !f.Found {
		return nil
	}
	want := parentKey(kind, key.Namespace, key.Name)
	grpcs, err := listRoutesBy(ctx, r.Client, GRPCRoutes, idxRouteParent, want)
	if err != nil {
		return err
	}
	routeNS := route.obj.GetNamespace()
	var names []string
	var ports []int32
	every := false
	for _, g := range grpcs {
		for _, gref := range GRPCRoutes.view(g).parents {
			gk, gns := classifyParent(gref, g.GetNamespace())
			if parentKey(gk, gns, string(gref.Name)) != want || (kind == parentService && g.GetNamespace() != routeNS) {
				continue
			}
			names = append(names, g.GetNamespace()+"/"+g.GetName())
			if kind != parentService || (gref.Port == nil && gref.SectionName == nil) {
				every = true
			} else {
				ports = append(ports, grpcRefPorts(ctx, r.Client, key, gref)...)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	f.ConflictWith = strings.Join(slices.Compact(names), ", ")
	if kind != parentService || every {
		f.Conflicted = true
		return nil
	}
	selected, err := servicePortsSelected(ctx, r.Client, key, ref)
	if err != nil {
		return err
	}
	var lost []int32
	for _, p := range selected {
		if slices.Contains(ports, p) {
			lost = append(lost, p)
		}
	}
	switch {
	case len(lost) == 0:
		f.ConflictWith = ""
	case len(lost) == len(selected):
		f.Conflicted = true
	default:
		f.ConflictPorts = lost
	}
	return nil
}

// grpcRefPorts are the Service ports a GRPCRoute's parentRef selects.
func grpcRefPorts(ctx context.Context, c client.Reader, svc types.NamespacedName, ref gatewayv1.ParentReference) []int32 {
	ports, _ := servicePortsSelected(ctx, c, svc, ref)
	return ports
}

// servicePortsSelected lists the TCP ports of Service svc that a parentRef's
// sectionName (a port name) and port select; all of them when neither is set.
func servicePortsSelected(ctx context.Context, c client.Reader, svc types.NamespacedName, ref gatewayv1.ParentReference) ([]int32, error) {
	var s corev1.Service
	if err := c.Get(ctx, svc, &s); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	var out []int32
	for _, p := range s.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if ref.SectionName != nil && *ref.SectionName != "" && string(*ref.SectionName) != p.Name {
			continue
		}
		if ref.Port != nil && *ref.Port != 0 && *ref.Port != p.Port {
			continue
		}
		out = append(out, p.Port)
	}
	return out, nil
}

// conflictNote is the accepted message's remark on ports a GRPCRoute took.
func conflictNote(f parentFacts) string {
	if len(f.ConflictPorts) == 0 {
		return ""
	}
	ports := make([]string, len(f.ConflictPorts))
	for i, p := range f.ConflictPorts {
		ports[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("; not on port %s, where GRPCRoute %s takes precedence (GEP-1294)", strings.Join(ports, ", "), f.ConflictWith)
}
