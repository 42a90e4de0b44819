// Package authz compiles AuthorizationPolicies (mesh.wayfabric.io/v1alpha1)
// into immutable evaluators for the two data planes. It is pure: no I/O, no
// Kubernetes client, no goroutines, no clocks. Semantics are Istio's and are
// written down in docs/authorization.md; spec_test.go is their table.
//
// # Compiling (on every configuration change)
//
//	set := authz.Compile(policies, authz.Options{RootNamespace: "wayfabric-system"})
//
// Compile never fails. A policy that does not compile keeps its Err; an
// ALLOW or DENY policy with an error denies everything it selects (fail
// closed), an AUDIT policy with an error is inert. Set.Policies lists every
// compiled policy with Key ("namespace/name"), Action, Err and L7 (whether
// it has HTTP fields), for status and logs.
//
// # Selecting (per destination, when the destination or the policies change)
//
// A waypoint enforces the policies attached to it or to the Service:
//
//	ev := set.ForWaypoint(types.NamespacedName{Namespace: wpNS, Name: wpName}, service)
//
// A destination ztunnel enforces, for each local pod, mesh-wide policies
// (no targetRefs, in RootNamespace), policies of the pod's namespace without
// targetRefs whose selector matches the pod's labels (or that have none), and
// policies attached to the pod's Services that use no waypoint:
//
//	ev := set.ForWorkload(authz.Workload{
//		Namespace: pod.Namespace, Labels: pod.Labels,
//		ServicesWithoutWaypoint: []string{"db"}, // names, in pod.Namespace
//	})
//
// A nil *Evaluator means no policy selects the destination: it allows
// everything, and calling it costs nothing. Build evaluators when pods or
// policies change, not per connection; an Evaluator is immutable and safe for
// concurrent use.
//
// # Evaluating (per connection or request; never allocates)
//
// L4, for the destination ztunnel on every inbound HBONE CONNECT (and for
// streams a waypoint passes through without parsing):
//
//	d := ev.L4(&authz.L4Request{
//		Source: authz.Peer{Identity: conn.PeerIdentity, IP: forwardedFor},
//		// Only when Source.Identity is a waypoint's own identity: the
//		// original client the waypoint carried across. Zero otherwise.
//		Origin:      authz.Peer{Identity: originalClientID, IP: originalClientIP},
//		Destination: podIPAndPort,
//	})
//	if !d.Allowed { stream.Reject(http.StatusForbidden) }
//
// L7, for the waypoint on every HTTP request:
//
//	d := ev.L7(&authz.L7Request{L4Request: ..., Host: r.Host, Method: r.Method,
//		Path: r.URL.EscapedPath(), Header: r.Header})
//
// A Decision says Allowed, the Reason (its String is the metric label:
// no_policy, no_allow_policy, allow_rule, deny_rule, invalid_policy,
// no_allow_match), the deciding Policy (nil when no rule decided) and the
// index of the matching Rule (-1 when none), plus the first matching AUDIT
// policy, which never changes the verdict.
//
// Evaluation order is Istio's: a policy that did not compile denies; then
// any matching DENY rule denies; with no ALLOW policy the request is
// allowed; a matching ALLOW rule allows; otherwise it is denied.
//
// # Sources through a waypoint
//
// Source fields (principals, serviceAccounts, namespaces, ipBlocks and the
// source.* conditions) see every peer of a request: the direct peer
// (Source) and, when set, the original client (Origin). A field matches if
// any peer matches; its not-form matches only if no peer does. So "ALLOW
// principals [client]" admits the client directly and through its waypoint,
// "ALLOW principals [waypoint]" admits whatever the waypoint forwards, and
// "DENY notPrincipals [client]" denies everyone but the client, either way.
//
// # L7 fields at L4
//
// L4 cannot see hosts, methods, paths or request headers. Such a leaf counts
// as matching in a DENY rule and as not matching in an ALLOW rule, so the L4
// view of a policy never admits more than the policy would.
package authz
