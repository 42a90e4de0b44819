package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"github.com/operator-framework/api/pkg/lib/version"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	csvBase  = "manifests/bases/wayfabric.clusterserviceversion.yaml"
	iconFile = "manifests/icon.svg"
)

// buildCSV completes the hand-written CSV base from the objects of
// config/default. It returns the CSV and the objects that go into the bundle
// as separate manifests (CRDs first).
func buildCSV(o options, objs []*unstructured.Unstructured) (*v1alpha1.ClusterServiceVersion, []*unstructured.Unstructured, error) {
	csv, err := loadCSVBase(filepath.Join(o.configDir, csvBase))
	if err != nil {
		return nil, nil, err
	}
	csv.Name = fmt.Sprintf("%s.v%s", packageName, o.version)
	csv.Spec.Version = version.OperatorVersion{Version: o.version}
	csv.Spec.Replaces = o.replaces

	icon, err := os.ReadFile(filepath.Join(o.configDir, iconFile))
	if err != nil {
		return nil, nil, err
	}
	csv.Spec.Icon = []v1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml"}}

	crds, crdObjs, rest, err := splitCRDs(objs)
	if err != nil {
		return nil, nil, err
	}
	if err := setOwnedCRDs(csv, crds); err != nil {
		return nil, nil, err
	}
	install, extra, err := installStrategy(rest, o.managerImage)
	if err != nil {
		return nil, nil, err
	}
	csv.Spec.InstallStrategy = v1alpha1.NamedInstallStrategy{
		StrategyName: v1alpha1.InstallStrategyNameDeployment, StrategySpec: install.spec,
	}
	csv.Spec.RelatedImages = relatedImages(install, o.managerImage, o.version.String())

	examples, err := almExamples(filepath.Join(o.configDir, "samples"), crds)
	if err != nil {
		return nil, nil, err
	}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["alm-examples"] = examples
	csv.Annotations["containerImage"] = o.managerImage

	return csv, append(crdObjs, extra...), nil
}

func loadCSVBase(path string) (*v1alpha1.ClusterServiceVersion, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	csv := &v1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(data, csv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return csv, nil
}

// splitCRDs separates the CRDs (typed, and as built) from the other objects.
func splitCRDs(objs []*unstructured.Unstructured) (crds []*apiextensionsv1.CustomResourceDefinition, crdObjs, rest []*unstructured.Unstructured, err error) {
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			rest = append(rest, u)
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
			return nil, nil, nil, fmt.Errorf("CRD %s: %w", u.GetName(), err)
		}
		crds, crdObjs = append(crds, crd), append(crdObjs, u)
	}
	if len(crds) == 0 {
		return nil, nil, nil, fmt.Errorf("config/default yields no CustomResourceDefinitions")
	}
	return crds, crdObjs, rest, nil
}
