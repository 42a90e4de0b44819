package api_test

import (
	"context"
	"os/exec"
	"strings"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// fromYAML parses one object; tests write manifests as users do.
func fromYAML(doc string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	ExpectWithOffset(1, yaml.Unmarshal([]byte(doc), &obj.Object)).To(Succeed())
	return obj
}

// runKubectl runs the real kubectl against the envtest apiserver.
func runKubectl(args ...string) (string, error) {
	cmd := exec.CommandContext(context.Background(), kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// headerFields splits kubectl's table header into its column names.
func headerFields(table string) []string {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	return strings.Fields(lines[0])
}
