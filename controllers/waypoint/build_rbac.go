package waypoint

import (
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/controllers/internal/meta"
)

// ReaderName names the ClusterRole and ClusterRoleBinding that let every
// waypoint read its configuration. They are shared: a cluster-scoped object
// cannot be owned by a namespaced Waypoint, and one binding listing every
// waypoint ServiceAccount costs one object instead of a thousand.
const ReaderName = "wayfabric-waypoint-reader"

// ReaderRules are what the waypoint's configuration loader watches,
// cluster-wide (routes may reference Services in other namespaces; policies
// attach to Services of any namespace the waypoint serves).
func ReaderRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "namespaces", "pods"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{gatewayv1.GroupName}, Resources: []string{"httproutes", "grpcroutes", "referencegrants"}, Verbs: read},
		{APIGroups: []string{meshv1alpha1.GroupVersion.Group}, Resources: []string{"authorizationpolicies"}, Verbs: read},
	}
}

func readerLabels() map[string]string {
	return map[string]string{meta.LabelName: "waypoint", meta.LabelManagedBy: meta.ManagedBy, meta.LabelPartOf: "wayfabric"}
}

// BuildReaderClusterRole grants ReaderRules.
func BuildReaderClusterRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: ReaderName, Labels: readerLabels()},
		Rules:      ReaderRules(),
	}
}

// BuildReaderClusterRoleBinding binds the reader role to the ServiceAccount
// of every Waypoint not being deleted, in a stable order so an unchanged
// fleet yields an unchanged binding.
func BuildReaderClusterRoleBinding(wps []meshv1alpha1.Waypoint) *rbacv1.ClusterRoleBinding {
	subjects := make([]rbacv1.Subject, 0, len(wps))
	for _, wp := range wps {
		if wp.DeletionTimestamp.IsZero() {
			subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: wp.Namespace, Name: wp.Name})
		}
	}
	sort.Slice(subjects, func(i, j int) bool {
		if subjects[i].Namespace != subjects[j].Namespace {
			return subjects[i].Namespace < subjects[j].Namespace
		}
		return subjects[i].Name < subjects[j].Name
	})
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: ReaderName, Labels: readerLabels()},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ReaderName},
		Subjects:   subjects,
	}
}
