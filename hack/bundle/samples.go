package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// almExamples returns the CSV's alm-examples annotation: every object in the
// samples directory whose kind is an owned CRD, in file-name order, as JSON.
// A missing samples directory is an error: OperatorHub requires examples.
func almExamples(dir string, crds []*apiextensionsv1.CustomResourceDefinition) (string, error) {
	owned := map[string]bool{}
	for _, crd := range crds {
		owned[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	examples := []map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := readYAMLObjects(f)
		if err != nil {
			return "", err
		}
		for _, o := range objs {
			gv, err := schema.ParseGroupVersion(fmt.Sprint(o["apiVersion"]))
			if err != nil {
				return "", fmt.Errorf("%s: %w", f, err)
			}
			if owned[gv.Group+"/"+fmt.Sprint(o["kind"])] {
				examples = append(examples, o)
			}
		}
	}
	if len(examples) == 0 {
		return "", fmt.Errorf("%s holds no example of the owned CRDs (OperatorHub needs alm-examples)", dir)
	}
	out, err := json.MarshalIndent(examples, "", "  ")
	return string(out), err
}

func readYAMLObjects(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []map[string]any
	for {
		var o map[string]any
		if err := dec.Decode(&o); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}
