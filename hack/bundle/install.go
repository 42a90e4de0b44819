package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// bundleKinds are the kinds OLM installs from a registry+v1 bundle besides the
// CSV and CRDs (operator-registry's supported kinds).
var bundleKinds = map[string]bool{
	"ClusterRole": true, "ClusterRoleBinding": true, "ConfigMap": true, "PodDisruptionBudget": true,
	"PriorityClass": true, "PrometheusRule": true, "Role": true, "RoleBinding": true, "Secret": true,
	"Service": true, "ServiceAccount": true, "ServiceMonitor": true, "VerticalPodAutoscaler": true,
}

type install struct {
	spec v1alpha1.StrategyDetailsDeployment
	envs map[string]string // RELATED_IMAGE_* of all containers
}

// installStrategy turns the Deployments of config/default into the CSV's
// deployment install strategy, and the RBAC bound to their service accounts
// into permissions (Roles) and clusterPermissions (ClusterRoles), the way
// operator-sdk does. Everything else OLM can install is returned as extra
// bundle manifests; the Namespace is dropped (OLM owns it).
func installStrategy(objs []*unstructured.Unstructured, managerImage string) (install, []*unstructured.Unstructured, error) {
	inst := install{envs: map[string]string{}}
	accounts := map[string]bool{}
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
			return inst, nil, fmt.Errorf("Deployment %s: %w", u.GetName(), err) //nolint:staticcheck // the kind, as Kubernetes spells it
		}
		setManagerImage(d, managerImage)
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "RELATED_IMAGE_") && e.Value != "" {
					inst.envs[e.Name] = e.Value
				}
			}
		}
		sa := d.Spec.Template.Spec.ServiceAccountName
		if sa == "" {
			return inst, nil, fmt.Errorf("Deployment %s sets no serviceAccountName", d.Name) //nolint:staticcheck // the kind, as Kubernetes spells it
		}
		accounts[sa] = true
		inst.spec.DeploymentSpecs = append(inst.spec.DeploymentSpecs, v1alpha1.StrategyDeploymentSpec{
			Name: d.Name, Spec: d.Spec, Label: d.Labels,
		})
	}
	if len(inst.spec.DeploymentSpecs) == 0 {
		return inst, nil, fmt.Errorf("config/default yields no Deployment")
	}

	roles := map[string][]rbacv1.PolicyRule{} // "Kind/name" -> rules
	for _, u := range objs {
		if k := u.GetKind(); k == "Role" || k == "ClusterRole" {
			r := &rbacv1.ClusterRole{} // Role and ClusterRole share the rules field
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r); err != nil {
				return inst, nil, fmt.Errorf("%s %s: %w", k, u.GetName(), err)
			}
			roles[k+"/"+u.GetName()] = r.Rules
		}
	}

	consumed := map[*unstructured.Unstructured]bool{}
	usedRoles := map[string]bool{}
	nsRules, clusterRules := map[string][]rbacv1.PolicyRule{}, map[string][]rbacv1.PolicyRule{}
	for _, u := range objs {
		k := u.GetKind()
		if k != "RoleBinding" && k != "ClusterRoleBinding" {
			continue
		}
		b := &rbacv1.RoleBinding{} // same shape as ClusterRoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, b); err != nil {
			return inst, nil, fmt.Errorf("%s %s: %w", k, u.GetName(), err)
		}
		sa, ok := boundAccount(b.Subjects, accounts)
		if !ok {
			continue
		}
		if len(b.Subjects) != 1 {
			return inst, nil, fmt.Errorf("%s %s binds the operator's service account together with other subjects", k, b.Name)
		}
		key := b.RoleRef.Kind + "/" + b.RoleRef.Name
		rules, found := roles[key]
		if !found {
			return inst, nil, fmt.Errorf("%s %s refers to %s, which config/default does not contain", k, b.Name, key)
		}
		if k == "ClusterRoleBinding" {
			clusterRules[sa] = append(clusterRules[sa], rules...)
		} else {
			nsRules[sa] = append(nsRules[sa], rules...)
		}
		consumed[u], usedRoles[key] = true, true
	}
	inst.spec.Permissions = permissions(nsRules)
	inst.spec.ClusterPermissions = permissions(clusterRules)

	var extra []*unstructured.Unstructured
	for _, u := range objs {
		k := u.GetKind()
		switch {
		case consumed[u], usedRoles[k+"/"+u.GetName()], k == "Deployment", k == "Namespace":
		case k == "ServiceAccount" && accounts[u.GetName()]:
		case bundleKinds[k]:
			extra = append(extra, u)
		default:
			return inst, nil, fmt.Errorf("config/default contains %s %s, which an OLM bundle cannot carry", k, u.GetName())
		}
	}
	return inst, extra, nil
}

func boundAccount(subjects []rbacv1.Subject, accounts map[string]bool) (string, bool) {
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && accounts[s.Name] {
			return s.Name, true
		}
	}
	return "", false
}

func permissions(rules map[string][]rbacv1.PolicyRule) []v1alpha1.StrategyDeploymentPermissions {
	var out []v1alpha1.StrategyDeploymentPermissions
	for sa, r := range rules {
		out = append(out, v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ServiceAccountName < out[j].ServiceAccountName })
	return out
}

// setManagerImage points the manager container at the released image.
func setManagerImage(d *appsv1.Deployment, image string) {
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			d.Spec.Template.Spec.Containers[i].Image = image
		}
	}
}

// relatedImages lists every image the operator runs, for mirroring into
// disconnected registries. RELATED_IMAGE_X values without a tag or digest are
// repositories whose tag follows the resource's spec.version; they are pinned
// to this release here.
func relatedImages(inst install, managerImage, version string) []v1alpha1.RelatedImage {
	out := []v1alpha1.RelatedImage{{Name: "manager", Image: managerImage}}
	var names []string
	for n := range inst.envs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		img := inst.envs[n]
		if !hasTagOrDigest(img) {
			img += ":v" + version
		}
		out = append(out, v1alpha1.RelatedImage{
			Name: strings.ToLower(strings.TrimPrefix(n, "RELATED_IMAGE_")), Image: img,
		})
	}
	return out
}

func hasTagOrDigest(ref string) bool {
	if strings.Contains(ref, "@") {
		return true
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	return strings.Contains(last, ":")
}
