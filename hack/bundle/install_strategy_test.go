package main

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const testObjects = `
apiVersion: v1
kind: Namespace
metadata: {name: wf}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: op, namespace: wf}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: op, namespace: wf}
spec:
  selector: {matchLabels: {app: op}}
  template:
    metadata: {labels: {app: op}}
    spec:
      serviceAccountName: op
      containers:
      - name: manager
        image: controller:latest
        env: [{name: RELATED_IMAGE_WAYPOINT, value: example.com/waypoint}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: op-role}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: op-binding}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: op-role}
subjects: [{kind: ServiceAccount, name: op, namespace: wf}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: op-leases, namespace: wf}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: op-leases, namespace: wf}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: op-leases}
subjects: [{kind: ServiceAccount, name: op, namespace: wf}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: viewer}
rules: [{apiGroups: [""], resources: [services], verbs: [get]}]
---
apiVersion: v1
kind: Service
metadata: {name: op-ca, namespace: wf}
spec: {ports: [{port: 15012}]}
`

func parseObjects(t *testing.T, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestInstallStrategyMapsRBACToPermissions(t *testing.T) {
	inst, extra, err := installStrategy(parseObjects(t, testObjects), "example.com/manager:v1")
	if err != nil {
		t.Fatal(err)
	}
	spec := inst.spec
	if len(spec.DeploymentSpecs) != 1 || spec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Image != "example.com/manager:v1" {
		t.Errorf("deployments = %+v, want one running example.com/manager:v1", spec.DeploymentSpecs)
	}
	if len(spec.ClusterPermissions) != 1 || spec.ClusterPermissions[0].ServiceAccountName != "op" ||
		spec.ClusterPermissions[0].Rules[0].Resources[0] != "pods" {
		t.Errorf("clusterPermissions = %+v, want the pods rule for op", spec.ClusterPermissions)
	}
	if len(spec.Permissions) != 1 || spec.Permissions[0].Rules[0].Resources[0] != "leases" {
		t.Errorf("permissions = %+v, want the leases rule for op", spec.Permissions)
	}
	if inst.envs["RELATED_IMAGE_WAYPOINT"] != "example.com/waypoint" {
		t.Errorf("related image envs = %v", inst.envs)
	}
	var names []string
	for _, u := range extra {
		names = append(names, u.GetKind()+"/"+u.GetName())
	}
	if got, want := strings.Join(names, ","), "ClusterRole/viewer,Service/op-ca"; got != want {
		t.Errorf("extra bundle manifests = %s, want %s (bound roles, bindings, the operator's SA and the Namespace are folded into the CSV)", got, want)
	}
}

func TestInstallStrategyRejectsWhatOLMCannotInstall(t *testing.T) {
	objs := parseObjects(t, testObjects+`
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hook}
`)
	if _, _, err := installStrategy(objs, "x"); err == nil || !strings.Contains(err.Error(), "ValidatingWebhookConfiguration") {
		t.Fatalf("err = %v, want a complaint about the ValidatingWebhookConfiguration", err)
	}
}
