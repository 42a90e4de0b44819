//go:build conformance

package conformance

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/consts"

	"github.com/wayfabric/wayfabric/controllers/gateway"
)

// Implementation is how the report names Wayfabric.
var implementation = confv1.Implementation{
	Organization: "wayfabric",
	Project:      "wayfabric",
	URL:          "https://github.com/wayfabric/wayfabric",
	Version:      "v0.1.0",
	Contact:      []string{"https://github.com/wayfabric/wayfabric/issues"},
}

// reportPath is where upstream keeps reports: reports/<Gateway API
// version>/<org>-<project>/<channel>-<version>-<mode>-report.yaml.
func reportPath(root string) string {
	return filepath.Join(root, "conformance", "reports", consts.BundleVersion,
		implementation.Organization+"-"+implementation.Project,
		"standard-"+implementation.Version+"-default-report.yaml")
}

// TestMeshConformance runs the upstream suite's Mesh profiles on the local
// cluster. Its clients are ordinary pods (the suite's echo app) whose
// traffic the node proxies capture and send through each namespace's
// waypoint: the same path as any workload's.
func TestMeshConformance(t *testing.T) {
	c := localCluster(t)
	requireSuiteImages(t, c)
	installWayfabric(t, c)
	prepareMeshNamespaces(t, c)

	t.Setenv("KUBECONFIG", c.kubeconfig)
	opts := conformance.DefaultOptions(t)
	opts.ConformanceProfiles = []suite.ConformanceProfileName{suite.MeshHTTPConformanceProfileName, suite.MeshGRPCConformanceProfileName}
	opts.SupportedFeatures = declaredFeatures()
	opts.EnableAllSupportedFeatures = false
	opts.GatewayClassName = gateway.GatewayClassName
	opts.NamespaceLabels = meshNamespaceLabels
	opts.Implementation = implementation
	opts.Mode = "default"
	opts.CleanupBaseResources = false // the namespaces and their Waypoints are ours; removed below
	opts.Debug = os.Getenv("WAYFABRIC_CONFORMANCE_DEBUG") == "1"
	if run := os.Getenv("WAYFABRIC_CONFORMANCE_RUN"); run != "" {
		opts.RunTest = run // one test, for debugging; no report is written then
	} else {
		out := reportPath(c.root)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		opts.ReportOutputPath = out
	}
	start := time.Now()
	conformance.RunConformanceWithOptions(t, opts)
	t.Logf("conformance suite ran in %s; report: %s", time.Since(start).Round(time.Second), opts.ReportOutputPath)
}

// suiteImages lists the images the suite's mesh manifests run.
func suiteImages(t *testing.T) []string {
	t.Helper()
	data, err := fs.ReadFile(&conformance.Manifests, "mesh/manifests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s*image:\s*(\S+)`).FindAllStringSubmatch(string(data), -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("the suite's mesh manifests name no image")
	}
	return out
}

// requireSuiteImages fails with instructions when the stand-in images are
// not in the cluster's containerd: nothing can be pulled here.
func requireSuiteImages(t *testing.T, c cluster) {
	t.Helper()
	have := c.images(t)
	for _, img := range suiteImages(t) {
		if !strings.Contains(have, img) {
			t.Fatalf("image %s (used by the suite's mesh manifests) is not in the cluster: run hack/e2e/images.sh, which builds it from hack/conformance", img)
		}
	}
}
