// Package e2e holds Wayfabric's end-to-end suite: the operator, waypoints and
// test applications as real pods on the local single-node cluster of
// hack/cluster (plus kwok fake nodes for scale).
//
// The suite is behind the build tag e2e, so `go test ./...` (make test) never
// runs it. Run it with `hack/e2e/run.sh` (cluster up, images, suite, cluster
// down), or against a cluster that is already up:
//
//	sudo make cluster-up && sudo hack/e2e/images.sh
//	sudo go test -tags e2e -count=1 -v ./test/e2e/
//
// Without root or without bin/cluster/kubeconfig every spec is skipped with a
// message saying so. See docs/e2e.md.
package e2e
