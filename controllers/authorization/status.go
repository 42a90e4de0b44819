package authorization

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/conditions"
	"github.com/wayfabric/wayfabric/proxy/authz"
)

// Target is what the reconciler found for one targetRef.
type Target struct {
	Ref meshv1alpha1.PolicyTargetReference
	// Problem says why the target cannot be enforced ("" when it can).
	Problem string
	// Waypoint ("namespace/name") enforces the policy for this target; empty
	// when the target is a Service whose traffic passes no waypoint.
	Waypoint string
	// NoWaypoint explains, for a Service without waypoint, why it has none.
	NoWaypoint string
}

func (t Target) describe() string {
	return t.Ref.Kind + " " + t.Ref.Name
}

// Facts are the inputs of a policy's status.
type Facts struct {
	Generation int64
	// Compiled is the policy as the data planes compile it.
	Compiled *authz.Policy
	// Root: the policy is in the operator's namespace (mesh-wide when it has
	// no targetRefs).
	Root     bool
	Selector bool
	Targets  []Target
	// ReadErr is a failure to read the targets: who enforces the policy is
	// then unknown.
	ReadErr error
}

// ComputeStatus derives the whole status (this reconciler owns all of it)
// from the facts and the status the policy has. When the targets could not
// be read, enforcedBy and waypoints keep their last known values.
func ComputeStatus(have meshv1alpha1.AuthorizationPolicyStatus, f Facts, now metav1.Time) meshv1alpha1.AuthorizationPolicyStatus {
	st := meshv1alpha1.AuthorizationPolicyStatus{ObservedGeneration: f.Generation, EnforcedBy: EnforcedBy(f)}
	for _, t := range f.Targets {
		if t.Problem == "" && t.Waypoint != "" && !slices.Contains(st.Waypoints, t.Waypoint) {
			st.Waypoints = append(st.Waypoints, t.Waypoint)
		}
	}
	slices.Sort(st.Waypoints)
	if f.ReadErr != nil {
		st.EnforcedBy, st.Waypoints = have.EnforcedBy, have.Waypoints
	}
	st.Conditions = []metav1.Condition{conditions.Merge(have.Conditions, AcceptedCondition(f), now)}
	return st
}

// EnforcedBy says which data plane enforces the policy: ztunnels for a
// policy without targetRefs; for targets, the waypoints of those that have
// one and the ztunnels of Services that have none.
func EnforcedBy(f Facts) meshv1alpha1.EnforcementPoint {
	if len(f.Targets) == 0 {
		return meshv1alpha1.EnforcedByZtunnel
	}
	var waypoint, ztunnel bool
	for _, t := range f.Targets {
		switch {
		case t.Problem != "":
		case t.Waypoint != "":
			waypoint = true
		default:
			ztunnel = true
		}
	}
	switch {
	case waypoint && ztunnel:
		return meshv1alpha1.EnforcedByWaypointAndZtunnel
	case waypoint:
		return meshv1alpha1.EnforcedByWaypoint
	case ztunnel:
		return meshv1alpha1.EnforcedByZtunnel
	}
	return meshv1alpha1.EnforcedByNone
}

// AcceptedCondition: False/Invalid when the policy does not compile (it
// then denies everything it selects), Unknown/ReadFailed when its targets
// could not be read, False/TargetNotFound when a target cannot be resolved,
// False/WaypointRequired when HTTP fields meet a Service without waypoint,
// else True/Accepted saying who enforces what.
func AcceptedCondition(f Facts) metav1.Condition {
	c := metav1.Condition{Type: meshv1alpha1.ConditionAccepted, ObservedGeneration: f.Generation}
	if err := f.Compiled.Err; err != nil {
		c.Status, c.Reason = metav1.ConditionFalse, meshv1alpha1.ReasonInvalid
		c.Message = fmt.Sprintf("The policy does not compile: %v. It fails closed: %s denies every request and connection to what it selects until it is fixed.", err, enforcers(f))
		if f.Compiled.Action == meshv1alpha1.ActionAudit {
			c.Message = fmt.Sprintf("The policy does not compile: %v. As an AUDIT policy it changes no decision; nothing is audited until it is fixed.", err)
		}
		return c
	}
	if f.ReadErr != nil {
		return conditions.Unknown(meshv1alpha1.ConditionAccepted, f.Generation, f.ReadErr)
	}
	var problems, needWaypoint []string
	for _, t := range f.Targets {
		switch {
		case t.Problem != "":
			problems = append(problems, t.Problem)
		case t.Waypoint == "" && f.Compiled.L7:
			needWaypoint = append(needWaypoint, fmt.Sprintf("Service %s uses no waypoint (%s)", t.Ref.Name, t.NoWaypoint))
		}
	}
	switch {
	case len(problems) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, meshv1alpha1.ReasonTargetNotFound
		c.Message = strings.Join(problems, "; ") + "."
		if rest := enforcement(f); rest != "" {
			c.Message += " " + rest
		}
	case len(needWaypoint) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, meshv1alpha1.ReasonWaypointRequired
		c.Message = strings.Join(needWaypoint, "; ") + ", but the policy has HTTP fields (hosts, methods, paths, request headers) that only a waypoint can evaluate. " +
			"Until it uses one, its destination ztunnels enforce the policy without them, failing closed: an ALLOW rule with HTTP fields matches nothing, a DENY rule with HTTP fields matches all traffic its other fields match. " +
			enforcement(f)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, meshv1alpha1.ReasonAccepted
		c.Message = enforcement(f)
	}
	return c
}

// enforcement is a sentence naming where the policy is enforced.
func enforcement(f Facts) string {
	if len(f.Targets) == 0 {
		scope := "every pod of its namespace"
		switch {
		case f.Root && f.Selector:
			scope = "the pods matching its selector in every namespace (mesh-wide)"
		case f.Root:
			scope = "every pod of the mesh"
		case f.Selector:
			scope = "the pods of its namespace matching its selector"
		}
		return "Enforced by the destination ztunnels of " + scope + "."
	}
	byWaypoint := map[string][]string{}
	var direct []string
	for _, t := range f.Targets {
		switch {
		case t.Problem != "":
		case t.Waypoint != "":
			byWaypoint[t.Waypoint] = append(byWaypoint[t.Waypoint], t.describe())
		default:
			direct = append(direct, t.Ref.Name)
		}
	}
	var parts []string
	for _, wp := range sortedKeys(byWaypoint) {
		parts = append(parts, fmt.Sprintf("by waypoint %s for %s", wp, strings.Join(byWaypoint[wp], ", ")))
	}
	if len(direct) > 0 {
		parts = append(parts, fmt.Sprintf("by the destination ztunnels of Service %s (no waypoint; L4 fields only)", strings.Join(direct, ", ")))
	}
	if len(parts) == 0 {
		return "Nothing enforces it."
	}
	return "Enforced " + strings.Join(parts, "; ") + "."
}

// enforcers names who applies a broken policy's deny-all.
func enforcers(f Facts) string {
	switch EnforcedBy(f) {
	case meshv1alpha1.EnforcedByWaypoint:
		return "its waypoint"
	case meshv1alpha1.EnforcedByZtunnel:
		return "every ztunnel enforcing it"
	case meshv1alpha1.EnforcedByWaypointAndZtunnel:
		return "each waypoint and ztunnel enforcing it"
	}
	return "every data plane enforcing it"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// StatusUpToDate reports whether have already says what want says.
func StatusUpToDate(have, want meshv1alpha1.AuthorizationPolicyStatus) bool {
	if have.ObservedGeneration != want.ObservedGeneration || have.EnforcedBy != want.EnforcedBy || !slices.Equal(have.Waypoints, want.Waypoints) {
		return false
	}
	for _, c := range want.Conditions {
		if !conditions.Same(have.Conditions, c) {
			return false
		}
	}
	return true
}
