//go:build conformance

package conformance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/controllers/gateway"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
	"github.com/wayfabric/wayfabric/internal/testenv"
)

const (
	operatorNS   = mesh.DefaultNamespace
	waypointName = "waypoint"
)

// meshNamespaceLabels enroll the suite's namespaces in the mesh and send
// their Services through the Waypoint of that name in each. The suite puts
// them on every Namespace it applies (ConformanceOptions.NamespaceLabels).
var meshNamespaceLabels = map[string]string{
	mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient,
	mesh.LabelUseWaypoint:   waypointName,
}

// installWayfabric makes the cluster a Wayfabric mesh, idempotently: the
// Gateway API CRDs of go.mod's version (the suite checks it), the operator
// with the local images, a ZtunnelConfig, and the GatewayClass.
func installWayfabric(t *testing.T, c cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	crds, err := testenv.GatewayAPICRDDir()
	if err != nil {
		t.Fatal(err)
	}
	c.kubectlOK(t, "", "apply", "--server-side", "--force-conflicts", "-f", crds)
	operator, err := c.run(ctx, "", "go", "tool", "kustomize", "build", filepath.Join(c.root, "config", "local"))
	if err != nil {
		t.Fatal(err)
	}
	c.apply(t, operator)
	c.kubectlOK(t, "", "-n", operatorNS, "rollout", "status", "deployment/wayfabric-manager", "--timeout=5m")

	// The local cluster's CNI directories are under its state dir, not /etc/cni
	// (hack/cluster/up.sh prints them).
	c.apply(t, `apiVersion: mesh.wayfabric.io/v1alpha1
kind: ZtunnelConfig
metadata: {name: default}
spec:
  cni: {binDir: `+filepath.Join(c.dir, "run", "cni", "bin")+`, confDir: `+filepath.Join(c.dir, "run", "cni", "net.d")+`}
`)
	c.waitFor(t, [][]string{
		{"get", "ztunnelconfig", "default", "-o", "yaml"},
		{"-n", operatorNS, "get", "pods", "-o", "wide"},
		{"-n", operatorNS, "logs", "-l", ztunnel.LabelConfig + "=default", "--tail=50"},
	}, "--for=condition=Ready", "ztunnelconfig/default", "--timeout=5m")

	c.apply(t, `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: `+gateway.GatewayClassName+`}
spec: {controllerName: `+gateway.ControllerName+`}
`)
	c.waitFor(t, nil, "--for=condition=Accepted", "gatewayclass/"+gateway.GatewayClassName, "--timeout=2m")
	// The class lists what the report claims for routes (GEP-2162).
	var gc gatewayv1.GatewayClass
	if err := json.Unmarshal([]byte(c.kubectlOK(t, "", "get", "gatewayclass", gateway.GatewayClassName, "-o", "json")), &gc); err != nil {
		t.Fatal(err)
	}
	if want := gateway.SupportedFeatures(true); !slices.Equal(gc.Status.SupportedFeatures, want) {
		t.Errorf("GatewayClass supportedFeatures = %v, want %v", gc.Status.SupportedFeatures, want)
	}
}

// prepareMeshNamespaces creates the suite's two namespaces, enrolled, each
// with a ready Waypoint, before the suite applies its manifests to them.
// The Waypoints serve workload traffic too (spec.for all): a pod that uses a
// waypoint accepts mesh traffic only from it, so the suite's requests to pod
// IPs (MeshFrontend) must pass through it as well, where no Service route
// applies to them.
func prepareMeshNamespaces(t *testing.T, c cluster) {
	t.Helper()
	for _, ns := range []string{suite.MeshNamespace, suite.MeshConsumerNamespace} {
		labels, _ := json.Marshal(meshNamespaceLabels)
		c.apply(t, `apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`, labels: `+string(labels)+`}
---
apiVersion: mesh.wayfabric.io/v1alpha1
kind: Waypoint
metadata: {name: `+waypointName+`, namespace: `+ns+`}
spec:
  for: all
  replicas: 1
  autoscaling: {horizontal: {enabled: false}}
`)
		if os.Getenv("WAYFABRIC_CONFORMANCE_KEEP") != "1" {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				if _, err := c.run(ctx, "", c.kubectl, "delete", "namespace", ns, "--ignore-not-found", "--timeout=4m"); err != nil {
					t.Logf("cleaning up: %v", err)
				}
			})
		}
	}
	for _, ns := range []string{suite.MeshNamespace, suite.MeshConsumerNamespace} {
		c.waitFor(t, [][]string{{"-n", ns, "get", "waypoint", waypointName, "-o", "yaml"}, {"-n", ns, "get", "pods", "-o", "wide"}},
			"-n", ns, "--for=condition=Ready", "waypoint/"+waypointName, "--timeout=5m")
	}
}
