#!/usr/bin/env bash
# `make test-e2e`: brings the local cluster up (with kwok fake nodes for the
# scale scenario), builds and imports the images, runs the Ginkgo suite in
# test/e2e (and, when WAYFABRIC_E2E_SUITES names it, the Gateway API
# conformance suite: test/conformance, Mesh profile), and always brings the
# cluster down again, even when a suite fails or is interrupted. The exit status is the first failing suite's (or
# down.sh's, if the machine could not be restored). `make conformance` runs
# the conformance suite alone (WAYFABRIC_E2E_SUITES=conformance).
#
# Settings: WAYFABRIC_E2E_SUITES (default "e2e"; "e2e conformance" runs both),
# WAYFABRIC_CLUSTER_KWOK_NODES (default 100; 0 skips the kwok scenario),
# WAYFABRIC_E2E_KEEP=1 keeps the cluster up afterwards for debugging (run
# `make cluster-down` yourself), GINKGO_ARGS (e.g. "-ginkgo.focus=kwok
# -ginkgo.v"), WAYFABRIC_CONFORMANCE_RUN=<ShortName> runs one conformance
# test (no report is written then).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}"
export WAYFABRIC_CLUSTER_KWOK_NODES="${WAYFABRIC_CLUSTER_KWOK_NODES:-100}"
K8S_VERSION="${K8S_VERSION:-v$(go list -m -f '{{.Version}}' k8s.io/api | sed 's/^v0\./1./')}"
export K8S_VERSION
say() { echo "e2e: $*" >&2; }
[[ $(id -u) == 0 ]] || { say "needs root (the local cluster does)"; exit 1; }

down() {
  if [[ ${WAYFABRIC_E2E_KEEP:-} == 1 ]]; then
    say "WAYFABRIC_E2E_KEEP=1: cluster left up; run 'make cluster-down' when done"
    return 0
  fi
  say "tearing the cluster down"
  hack/cluster/down.sh
}
rc=0
trap 'down || rc=$?; exit $rc' EXIT
trap 'rc=130; exit' INT TERM

suites="${WAYFABRIC_E2E_SUITES:-e2e}"
hack/cluster/up.sh || { rc=$?; say "cluster-up failed"; exit; }
hack/e2e/images.sh || { rc=$?; say "image build/import failed"; exit; }
if [[ " $suites " == *" e2e "* ]]; then
  say "running test/e2e"
  go test -tags e2e -count=1 -timeout 40m ./test/e2e/ -v ${GINKGO_ARGS:-} || rc=$?
fi
if [[ " $suites " == *" conformance "* ]]; then
  say "running the Gateway API conformance suite, Mesh profile (test/conformance)"
  go test -tags conformance -count=1 -timeout 60m ./test/conformance/ -v -run 'TestMeshConformance|TestDeclaredFeaturesAreKnown' || { r=$?; ((rc)) || rc=$r; }
fi
