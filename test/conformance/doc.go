// Package conformance runs the upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, at the version of go.mod) against
// Wayfabric on the local cluster: the Mesh profiles (MESH-HTTP, MESH-GRPC)
// with the features controllers/gateway claims, and writes the suite's
// ConformanceReport to conformance/reports/<gateway-api version>/wayfabric-wayfabric/.
//
// The test is behind the build tag conformance, so `go test ./...` never runs
// it. `make conformance` brings the local cluster up, builds and imports the
// images (the suite's echo-advanced stand-in from hack/conformance), runs it
// and brings the cluster down; `make test-e2e` runs it after the e2e suite.
// Against a cluster that is already up, with the images imported:
//
//	sudo go test -tags conformance -count=1 -timeout 60m -v ./test/conformance/
//
// See docs/conformance.md.
package conformance
