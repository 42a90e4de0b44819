// Package configtest writes static waypoint configurations (the
// --static-config format) for tests that run real waypoint processes.
package configtest

import (
	"fmt"
	"os"
	"path/filepath"
)

// ServiceIP and ServicePort address the one Service of OneService.
const (
	ServiceIP   = "10.96.0.10"
	ServicePort = 80
)

// OneService is a namespace "app" that uses waypoint "wp", with Service "web"
// at ServiceIP:ServicePort whose only endpoint is 127.0.0.1:backendPort.
func OneService(backendPort int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {mesh.wayfabric.io/use-waypoint: wp}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec: {clusterIP: %[1]s, clusterIPs: [%[1]s], ports: [{name: http, port: %[2]d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: app, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: %[3]d}]
endpoints: [{addresses: [127.0.0.1]}]
`, ServiceIP, ServicePort, backendPort)
}

// T is the part of testing.TB (and Ginkgo's GinkgoT) this package uses.
type T interface {
	Helper()
	TempDir() string
	Fatal(args ...any)
}

// WriteOneService writes OneService to a file in the test's temp folder.
func WriteOneService(t T, backendPort int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(OneService(backendPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
