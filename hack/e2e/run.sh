#!/usr/bin/env bash
# `make test-e2e`: brings the local cluster up (with kwok fake nodes for the
# scale scenario), builds and imports the images, runs the Ginkgo suite in
# test/e2e, and always brings the cluster down again, even when the suite
# fails or is interrupted. The exit status is the suite's (or down.sh's, if
# the machine could not be restored).
#
# Settings: WAYFABRIC_CLUSTER_KWOK_NODES (default 100; 0 skips the kwok
# scenario), WAYFABRIC_E2E_KEEP=1 keeps the cluster up afterwards for
# debugging (run `make cluster-down` yourself), GINKGO_ARGS (e.g.
# "-ginkgo.focus=kwok -ginkgo.v").
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

hack/cluster/up.sh || { rc=$?; say "cluster-up failed"; exit; }
hack/e2e/images.sh || { rc=$?; say "image build/import failed"; exit; }
say "running test/e2e"
go test -tags e2e -count=1 -timeout 40m ./test/e2e/ -v ${GINKGO_ARGS:-} || rc=$?
