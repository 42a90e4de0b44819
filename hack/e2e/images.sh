#!/usr/bin/env bash
# Builds the images the end-to-end suite and `make run` use, for this machine's platform
# only, as wayfabric.local/<name>:v0.1.0 (the names config/local and config/demo
# expect), and imports them into the local cluster's containerd:
#   manager, waypoint,  from cmd/            (hack/images, as `make images`;
#   ztunnel                                    the ztunnel image carries the CNI plugin)
#   waypoint:v0.1.1,    the same proxies tagged as the next release (upgrade scenarios)
#   ztunnel:v0.1.1
#   echo                from hack/e2e/echo   (test app: HTTP echo + load generator)
#   echo-advanced       from hack/conformance/echo-advanced, named and tagged as
#                       the Gateway API conformance suite's mesh manifests expect
#                       (registry.k8s.io/gateway-api/echo-advanced:<tag>), since
#                       nothing can be pulled here (docs/conformance.md)
# Tarballs go to bin/e2e/images/. Needs root and a running cluster (make cluster-up).
#
#   hack/e2e/images.sh            build and import
#   hack/e2e/images.sh -no-import build only
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
REPO="${WAYFABRIC_E2E_IMAGE_REPO:-wayfabric.local}"
VERSION=v0.1.0
NEXT_VERSION=v0.1.1
OUT="$ROOT/bin/e2e/images"
PLATFORM="linux/$(go env GOARCH)"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}"
say() { echo "e2e-images: $*" >&2; }

start=$SECONDS
say "building $REPO/{manager,waypoint,ztunnel,echo}:$VERSION and $REPO/{waypoint,ztunnel}:$NEXT_VERSION for $PLATFORM into $OUT"
nice -n 10 go run ./hack/images -version "$VERSION" -repo "$REPO" -platforms "$PLATFORM" -out "$OUT" manager waypoint ztunnel
# The same proxies once more, tagged as the next release, for the upgrade scenarios.
nice -n 10 go run ./hack/images -version "$NEXT_VERSION" -repo "$REPO" -platforms "$PLATFORM" -out "$OUT" waypoint ztunnel
nice -n 10 go run ./hack/images -version "$VERSION" -repo "$REPO" -platforms "$PLATFORM" -out "$OUT" -cmd hack/e2e echo
# The conformance suite's echo app: its reference comes from the suite's own
# manifests at the version in go.mod, so an upgrade of the suite follows.
go mod download sigs.k8s.io/gateway-api/conformance
conf_dir="$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api/conformance)"
echo_ref="$(sed -n 's/^[[:space:]]*image:[[:space:]]*\([^[:space:]]*\/echo-advanced:[^[:space:]]*\).*/\1/p' "$conf_dir/mesh/manifests.yaml" | sort -u)"
if [[ -z $echo_ref || $echo_ref == *$'\n'* ]]; then
  say "cannot find the one echo-advanced image of $conf_dir/mesh/manifests.yaml (found: ${echo_ref:-none})"
  exit 1
fi
echo_tag="${echo_ref##*:}"
say "building $echo_ref (the suite's echo app) from hack/conformance"
nice -n 10 go run ./hack/images -version "$echo_tag" -repo "${echo_ref%/echo-advanced:*}" -platforms "$PLATFORM" -out "$OUT" \
  -cmd hack/conformance -links client echo-advanced
say "built in $((SECONDS - start))s"
[[ ${1:-} == -no-import ]] && exit 0
hack/cluster/import-images.sh "$OUT/manager-$VERSION.tar" "$OUT/waypoint-$VERSION.tar" "$OUT/waypoint-$NEXT_VERSION.tar" \
  "$OUT/ztunnel-$VERSION.tar" "$OUT/ztunnel-$NEXT_VERSION.tar" "$OUT/echo-$VERSION.tar" "$OUT/echo-advanced-$echo_tag.tar"
