package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthorizationAction is what a policy does with the traffic its rules match.
// +kubebuilder:validation:Enum=ALLOW;DENY;AUDIT;CUSTOM
// +kubebuilder:validation:XValidation:rule="self != 'CUSTOM'",message="action CUSTOM (external authorization) is not supported: use ALLOW, DENY or AUDIT"
type AuthorizationAction string

const (
	// ActionAllow admits what a rule matches. Any ALLOW policy that selects a
	// destination makes everything else to it denied.
	ActionAllow AuthorizationAction = "ALLOW"
	// ActionDeny refuses what a rule matches. DENY is evaluated before ALLOW.
	ActionDeny AuthorizationAction = "DENY"
	// ActionAudit logs what a rule matches; it never changes the decision.
	ActionAudit AuthorizationAction = "AUDIT"
	// ActionCustom is Istio's external authorization; rejected by validation.
	ActionCustom AuthorizationAction = "CUSTOM"
)

// AuthorizationPolicySpec says who may call what. Its shape is Istio's
// security.istio.io AuthorizationPolicy, so Istio policies keep their meaning.
// +kubebuilder:validation:XValidation:rule="!(has(self.selector) && has(self.targetRefs))",message="set either selector (pods, enforced by their ztunnels) or targetRefs (Services, Waypoints, Gateways, enforced by waypoints), not both"
// +kubebuilder:validation:XValidation:rule="has(self.targetRefs) || !has(self.rules) || self.rules.all(r, (!has(r.to) || r.to.all(t, !has(t.operation) || (!has(t.operation.hosts) && !has(t.operation.notHosts) && !has(t.operation.methods) && !has(t.operation.notMethods) && !has(t.operation.paths) && !has(t.operation.notPaths)))) && (!has(r.when) || r.when.all(w, !w.key.startsWith('request.'))))",message="hosts, methods, paths and request.headers conditions are HTTP (L7) fields, and a policy without targetRefs is enforced by ztunnels, which never parse HTTP: attach the policy with targetRefs to a Service that uses a waypoint, or to the Waypoint itself"
type AuthorizationPolicySpec struct {
	// Selector picks the pods the policy protects, in the policy's namespace
	// (in every namespace when the policy is in the operator's namespace).
	// Their ztunnels enforce it, so only L4 fields are allowed. Without
	// selector and targetRefs the policy protects every pod of its namespace
	// (of the mesh in the operator's namespace).
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// TargetRefs attach the policy to Services, Waypoints or Gateways in the
	// policy's namespace. A Service's waypoint, or the Waypoint itself,
	// enforces it with all L4 and L7 fields. A targeted Service without a
	// waypoint is protected by the ztunnels of its endpoints (L4 fields only).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	TargetRefs []PolicyTargetReference `json:"targetRefs,omitempty"`

	// Action is ALLOW (the default), DENY or AUDIT.
	// +kubebuilder:default=ALLOW
	// +optional
	Action AuthorizationAction `json:"action,omitempty"`

	// Rules match traffic; a policy matches when any rule does. An ALLOW
	// policy without rules allows nothing (so it denies everything it
	// selects); a DENY policy without rules denies nothing. An empty rule
	// ({}) matches everything.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Rules []AuthorizationRule `json:"rules,omitempty"`
}

// PolicyTargetReference names a Service (group ""), a Waypoint (group
// mesh.wayfabric.io) or a Gateway (group gateway.networking.k8s.io) in the
// policy's namespace.
// +kubebuilder:validation:XValidation:rule="(self.group.size() == 0 && self.kind == 'Service') || (self.group == 'mesh.wayfabric.io' && self.kind == 'Waypoint') || (self.group == 'gateway.networking.k8s.io' && self.kind == 'Gateway')",message="targetRefs may name a Service (group \"\"), a Waypoint (group mesh.wayfabric.io) or a Gateway (group gateway.networking.k8s.io); other kinds (GatewayClass, ServiceEntry) are not supported"
type PolicyTargetReference struct {
	// Group of the target: "" for Service, mesh.wayfabric.io for Waypoint,
	// gateway.networking.k8s.io for Gateway.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:default=""
	// +optional
	Group string `json:"group"`
	// Kind of the target: Service, Waypoint or Gateway.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// Name of the target.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace, if set, must be the policy's own namespace (as in Istio).
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// AuthorizationRule matches traffic when from, to and when all match. A
// missing part matches everything.
type AuthorizationRule struct {
	// From lists sources; any may match.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	From []RuleFrom `json:"from,omitempty"`
	// To lists operations; any may match.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	To []RuleTo `json:"to,omitempty"`
	// When lists further conditions; all must match.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	When []RuleCondition `json:"when,omitempty"`
}

// RuleFrom wraps a Source (Istio's shape).
type RuleFrom struct {
	// Source the traffic comes from.
	Source Source `json:"source"`
}

// RuleTo wraps an Operation (Istio's shape).
type RuleTo struct {
	// Operation the traffic asks for.
	Operation Operation `json:"operation"`
}

// Source matches the client. Fields are ANDed; the values of one field are
// ORed, and a not-field matches when none of its values does. Through a
// waypoint the destination ztunnel sees two sources, the waypoint and the
// original client: a field matches if either does, and a not-field only if
// neither does.
// +kubebuilder:validation:XValidation:rule="has(self.principals) || has(self.notPrincipals) || has(self.serviceAccounts) || has(self.notServiceAccounts) || has(self.namespaces) || has(self.notNamespaces) || has(self.ipBlocks) || has(self.notIpBlocks) || has(self.requestPrincipals) || has(self.notRequestPrincipals) || has(self.remoteIpBlocks) || has(self.notRemoteIpBlocks)",message="source must set at least one field; to match every source, leave out from"
// +kubebuilder:validation:XValidation:rule="!has(self.requestPrincipals) && !has(self.notRequestPrincipals)",message="requestPrincipals and notRequestPrincipals need JWT authentication (RequestAuthentication), which Wayfabric does not support; match mesh identities with principals"
// +kubebuilder:validation:XValidation:rule="!has(self.remoteIpBlocks) && !has(self.notRemoteIpBlocks)",message="remoteIpBlocks and notRemoteIpBlocks (client addresses from X-Forwarded-For) are not supported; ipBlocks match the original client address the ztunnel reports"
type Source struct {
	// Principals are peer identities: spiffe://<trust-domain>/ns/<ns>/sa/<sa>,
	// Istio's <trust-domain>/ns/<ns>/sa/<sa>, or ns/<ns>/sa/<sa> for any
	// trust domain. Patterns: exact, "prefix*", "*suffix", or "*" (any
	// authenticated peer).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Principals []StringMatch `json:"principals,omitempty"`
	// NotPrincipals: the peer identity must match none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotPrincipals []StringMatch `json:"notPrincipals,omitempty"`
	// ServiceAccounts are "<namespace>/<service-account>", exact.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	ServiceAccounts []ServiceAccountName `json:"serviceAccounts,omitempty"`
	// NotServiceAccounts: the peer must be none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotServiceAccounts []ServiceAccountName `json:"notServiceAccounts,omitempty"`
	// Namespaces of the peer identity (patterns as for principals).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Namespaces []StringMatch `json:"namespaces,omitempty"`
	// NotNamespaces: the peer's namespace must match none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotNamespaces []StringMatch `json:"notNamespaces,omitempty"`
	// IPBlocks are client addresses or CIDRs (10.1.2.3, 10.1.0.0/16).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	IPBlocks []IPBlock `json:"ipBlocks,omitempty"`
	// NotIPBlocks: the client address must be in none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotIPBlocks []IPBlock `json:"notIpBlocks,omitempty"`
	// RequestPrincipals (JWT) are not supported; present so that an Istio
	// policy using them is rejected with a clear message.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	RequestPrincipals []StringMatch `json:"requestPrincipals,omitempty"`
	// NotRequestPrincipals (JWT) are not supported.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotRequestPrincipals []StringMatch `json:"notRequestPrincipals,omitempty"`
	// RemoteIPBlocks (X-Forwarded-For) are not supported.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	RemoteIPBlocks []IPBlock `json:"remoteIpBlocks,omitempty"`
	// NotRemoteIPBlocks (X-Forwarded-For) are not supported.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotRemoteIPBlocks []IPBlock `json:"notRemoteIpBlocks,omitempty"`
}

// Operation matches what the client asks for. Fields are ANDed; values of
// a field are ORed. Ports are L4; hosts, methods and paths are HTTP (L7)
// and need a waypoint.
// +kubebuilder:validation:XValidation:rule="has(self.hosts) || has(self.notHosts) || has(self.ports) || has(self.notPorts) || has(self.methods) || has(self.notMethods) || has(self.paths) || has(self.notPaths)",message="operation must set at least one field; to match every operation, leave out to"
type Operation struct {
	// Hosts match the request's Host (HTTP/2 :authority), case-insensitively,
	// port included if the client sent one ("web.app:*" matches any port).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Hosts []StringMatch `json:"hosts,omitempty"`
	// NotHosts: the Host must match none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotHosts []StringMatch `json:"notHosts,omitempty"`
	// Ports are destination ports: the Service port at a waypoint, the
	// workload's port at a ztunnel.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Ports []PortNumber `json:"ports,omitempty"`
	// NotPorts: the destination port must be none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotPorts []PortNumber `json:"notPorts,omitempty"`
	// Methods are HTTP methods, case-sensitive (GET, POST, ...).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Methods []StringMatch `json:"methods,omitempty"`
	// NotMethods: the method must match none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotMethods []StringMatch `json:"notMethods,omitempty"`
	// Paths match the request path without the query, after normalisation
	// (percent-encoded unreserved characters decoded, dot segments removed).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Paths []PathMatch `json:"paths,omitempty"`
	// NotPaths: the path must match none of these.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotPaths []PathMatch `json:"notPaths,omitempty"`
}

// RuleCondition is one further requirement. Keys: request.headers[<name>] (L7),
// source.ip, source.namespace, source.principal, destination.ip,
// destination.port.
// +kubebuilder:validation:XValidation:rule="self.key.matches('^request\\\\.headers\\\\[[^\\\\[\\\\]]+\\\\]$') || self.key in ['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']",message="when.key must be request.headers[<name>], source.ip, source.namespace, source.principal, destination.ip or destination.port; JWT claims (request.auth.*), connection.sni and experimental keys are not supported"
// +kubebuilder:validation:XValidation:rule="has(self.values) || has(self.notValues)",message="when needs values or notValues"
// +kubebuilder:validation:XValidation:rule="!(self.key in ['source.ip', 'destination.ip']) || ((!has(self.values) || self.values.all(v, isIP(v) || isCIDR(v))) && (!has(self.notValues) || self.notValues.all(v, isIP(v) || isCIDR(v))))",message="source.ip and destination.ip values must be IP addresses or CIDRs (10.1.2.3, 10.1.0.0/16)"
// +kubebuilder:validation:XValidation:rule="self.key != 'destination.port' || ((!has(self.values) || self.values.all(v, v.matches('^[0-9]{1,5}$') && int(v) >= 1 && int(v) <= 65535)) && (!has(self.notValues) || self.notValues.all(v, v.matches('^[0-9]{1,5}$') && int(v) >= 1 && int(v) <= 65535)))",message="destination.port values must be port numbers from 1 to 65535"
type RuleCondition struct {
	// Key names the attribute.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Key string `json:"key"`
	// Values: the attribute must match one (patterns as for principals).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Values []StringMatch `json:"values,omitempty"`
	// NotValues: the attribute must match none.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	NotValues []StringMatch `json:"notValues,omitempty"`
}

// StringMatch is an exact value, a prefix ("abc*"), a suffix ("*abc"), or
// "*" (any non-empty value).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="self.size() < 3 || !self.substring(1, self.size() - 1).contains('*')",message="a value may be exact, a prefix (\"abc*\"), a suffix (\"*abc\") or \"*\"; '*' elsewhere is not a wildcard"
// +kubebuilder:validation:XValidation:rule="!self.startsWith('*') || !self.endsWith('*') || self == '*'",message="a value may be a prefix (\"abc*\") or a suffix (\"*abc\"), not both"
type StringMatch string

// PathMatch is a StringMatch on a request path.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:XValidation:rule="self.size() < 3 || !self.substring(1, self.size() - 1).contains('*')",message="a path may be exact (\"/a/b\"), a prefix (\"/a/*\"), a suffix (\"*.png\") or \"*\"; '*' elsewhere is not a wildcard"
// +kubebuilder:validation:XValidation:rule="!self.contains('{')",message="path templates ({*}, {**}) are not supported; use a prefix (\"/a/*\") or suffix (\"*.png\")"
// +kubebuilder:validation:XValidation:rule="self.startsWith('/') || self.startsWith('*')",message="a path starts with / (or is a suffix or presence match starting with *)"
type PathMatch string

// ServiceAccountName is "<namespace>/<service-account>".
// +kubebuilder:validation:MaxLength=317
// +kubebuilder:validation:XValidation:rule="self.indexOf('/') > 0 && self.indexOf('/') == self.lastIndexOf('/') && self.indexOf('/') < self.size() - 1",message="serviceAccounts entries are <namespace>/<service-account>, for example app/frontend"
type ServiceAccountName string

// IPBlock is an IP address or a CIDR.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="isIP(self) || isCIDR(self)",message="ipBlocks entries must be IP addresses (10.1.2.3) or CIDRs (10.1.0.0/16)"
type IPBlock string

// PortNumber is a port, written as a string as in Istio ("8080").
// +kubebuilder:validation:MaxLength=5
// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,5}$') && int(self) >= 1 && int(self) <= 65535",message="ports must be port numbers from 1 to 65535, written as strings (\"8080\")"
type PortNumber string

// EnforcementPoint says which data plane enforces a policy.
// +kubebuilder:validation:Enum=Waypoint;Ztunnel;WaypointAndZtunnel;None
type EnforcementPoint string

const (
	// EnforcedByWaypoint: the waypoint of the targeted Services, or the
	// targeted Waypoint, evaluates the policy for every request or stream.
	EnforcedByWaypoint EnforcementPoint = "Waypoint"
	// EnforcedByZtunnel: the destination ztunnels of the selected pods
	// evaluate the policy for every inbound connection.
	EnforcedByZtunnel EnforcementPoint = "Ztunnel"
	// EnforcedByWaypointAndZtunnel: some targets have a waypoint, others not.
	EnforcedByWaypointAndZtunnel EnforcementPoint = "WaypointAndZtunnel"
	// EnforcedByNone: no target exists, so nothing enforces the policy.
	EnforcedByNone EnforcementPoint = "None"
)

// Condition type and reasons of AuthorizationPolicy status.
const (
	// ConditionAccepted is True when every target resolved and the policy compiled.
	ConditionAccepted = "Accepted"
	// ReasonAccepted: the policy is enforced as written.
	ReasonAccepted = "Accepted"
	// ReasonInvalid: the policy did not compile; it denies everything it selects.
	ReasonInvalid = "Invalid"
	// ReasonTargetNotFound: a targetRef names nothing that exists.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonWaypointRequired: a targeted Service has no waypoint but the policy
	// has HTTP fields; its ztunnels enforce it without them, failing closed.
	ReasonWaypointRequired = "WaypointRequired"
)

// AuthorizationPolicyStatus is what the operator observed about a policy.
type AuthorizationPolicyStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// EnforcedBy says which data plane enforces the policy.
	// +optional
	EnforcedBy EnforcementPoint `json:"enforcedBy,omitempty"`
	// Waypoints that enforce the policy, as namespace/name.
	// +listType=set
	// +optional
	Waypoints []string `json:"waypoints,omitempty"`
	// Conditions: Accepted.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AuthorizationPolicy decides who may call what in the mesh: ALLOW, DENY or
// AUDIT rules over the client's identity, namespace and address and (at a
// waypoint) the HTTP request. Policies in the operator's namespace without
// targetRefs apply mesh-wide.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=wayfabric
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.spec.action`
// +kubebuilder:printcolumn:name="Enforced-By",type=string,JSONPath=`.status.enforcedBy`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuthorizationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AuthorizationPolicySpec   `json:"spec,omitempty"`
	Status AuthorizationPolicyStatus `json:"status,omitempty"`
}

// AuthorizationPolicyList is a list of AuthorizationPolicies.
// +kubebuilder:object:root=true
type AuthorizationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthorizationPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AuthorizationPolicy{}, &AuthorizationPolicyList{})
}
