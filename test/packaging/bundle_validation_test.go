package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
)

// TestBundleValidates runs the checks of `operator-sdk bundle validate
// --select-optional suite=operatorframework` plus the good-practice and
// deprecated-API validators (k8s-version = the CSV's minKubeVersion), and
// accepts neither errors nor warnings.
func TestBundleValidates(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "bundle")
	problems, err := validateBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestBundleValidationCatchesMistakes proves the validation above can fail:
// each case breaks a copy of the bundle the way a careless edit would.
func TestBundleValidationCatchesMistakes(t *testing.T) {
	src := filepath.Join(repoRoot(t), "bundle")
	csv := filepath.Join("manifests", "wayfabric.clusterserviceversion.yaml")
	annotations := filepath.Join("metadata", "annotations.yaml")
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown category", csv, "categories: Networking", "categories: Meshes", "categories"},
		{"unknown capability", csv, "capabilities: Auto Pilot", "capabilities: Autopilot", "capabilities"},
		{"minKubeVersion not semver", csv, "minKubeVersion: 1.33.0", "minKubeVersion: one-dot-33", "minKubeVersion"},
		{"no resource requests", csv, "\n                  requests:\n                    cpu: 100m\n                    memory: 128Mi", "", "resource requests"},
		{"broken alm-examples", csv, `"kind": "Waypoint"`, `"kind": "Waypoint`, "invalid example"},
		{"unconventional channel", annotations, "channels.v1: stable,candidate", "channels.v1: stable,latest", "channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, src, dir)
			replaceInFile(t, filepath.Join(dir, tc.file), tc.old, tc.new)
			problems, err := validateBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !containsFold(problems, tc.want) {
				t.Fatalf("validation missed the mistake; want a problem mentioning %q, got %q", tc.want, problems)
			}
		})
	}
}

func validateBundle(dir string) ([]string, error) {
	bundle, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	if bundle.CSV == nil {
		return nil, fmt.Errorf("%s has no ClusterServiceVersion", dir)
	}
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.ObjectValidator,
	)
	objs := append(bundle.ObjectsToValidate(), map[string]string{"k8s-version": bundle.CSV.Spec.MinKubeVersion})
	var problems []string
	for _, r := range validators.Validate(objs...) {
		for _, e := range r.Errors {
			problems = append(problems, fmt.Sprintf("%s: error: %v", r.Name, e))
		}
		for _, w := range r.Warnings {
			problems = append(problems, fmt.Sprintf("%s: warning: %v", r.Name, w))
		}
	}
	if bundle.CSV.Spec.MinKubeVersion == "" {
		problems = append(problems, "the CSV sets no minKubeVersion")
	}
	return problems, nil
}

func containsFold(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
