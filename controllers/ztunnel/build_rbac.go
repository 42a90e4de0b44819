package ztunnel

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// BuildServiceAccount is the ztunnels' identity towards the API server and
// the CA (which only issues them identities of pods on their own node).
func BuildServiceAccount(zc *meshv1alpha1.ZtunnelConfig, namespace string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: Name(zc), Namespace: namespace,
			Labels: objectLabels(zc), OwnerReferences: ownerRef(zc)},
	}
}

// ZtunnelRules are exactly what a ztunnel reads: pods and namespaces
// (labels), services and their endpoints, and waypoints (use-waypoint) for
// its workload and service tables; at shutdown, the ZtunnelConfigs and its
// node's labels, to tell a restart or a move to another ZtunnelConfig's
// pool (pods stay captured) from the mesh leaving the node (rules and CNI
// plugin removed); and the AuthorizationPolicies it enforces on inbound
// connections. The CNI plugin's fallback reads pods and namespaces with
// the same account. Read-only; no secrets.
func ZtunnelRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "services"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{meshv1alpha1.GroupVersion.Group}, Resources: []string{"waypoints", "authorizationpolicies"}, Verbs: read},
		{APIGroups: []string{meshv1alpha1.GroupVersion.Group}, Resources: []string{"ztunnelconfigs"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
	}
}

// BuildClusterRole grants ZtunnelRules.
func BuildClusterRole(zc *meshv1alpha1.ZtunnelConfig) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: clusterName(zc), Labels: objectLabels(zc), OwnerReferences: ownerRef(zc)},
		Rules:      ZtunnelRules(),
	}
}

// BuildClusterRoleBinding binds the ClusterRole to the ServiceAccount.
func BuildClusterRoleBinding(zc *meshv1alpha1.ZtunnelConfig, namespace string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: clusterName(zc), Labels: objectLabels(zc), OwnerReferences: ownerRef(zc)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterName(zc)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name(zc), Namespace: namespace}},
	}
}
