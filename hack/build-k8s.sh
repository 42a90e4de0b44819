#!/usr/bin/env bash
# Builds Kubernetes and etcd binaries from Go modules (no download sites needed)
# into bin/k8s/<version>/. Used by `make envtest` (kube-apiserver, kubectl, etcd)
# and by the local cluster (the other components).
#
#   hack/build-k8s.sh [component...]    default: kube-apiserver kubectl etcd
#
# Components: kube-apiserver kubectl kube-controller-manager kube-scheduler
#             kubelet kube-proxy etcd
# Environment: K8S_VERSION (default: the k8s.io/api version in go.mod, as v1.X.Y)
#              ETCD_VERSION (default v3.7.3), BIN_DIR (default <repo>/bin/k8s)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
die() { echo "build-k8s: error: $*" >&2; exit 1; }
say() { echo "build-k8s: $*" >&2; }

command -v go >/dev/null || die "go is not on PATH; install Go 1.26+ first"

api_version="$(cd "$ROOT" && GOWORK=off go list -m -f '{{.Version}}' k8s.io/api 2>/dev/null || true)"
[[ -n "${K8S_VERSION:-}" || -n "$api_version" ]] || die "cannot read the k8s.io/api version from go.mod; set K8S_VERSION"
# k8s.io/api v0.X.Y belongs to Kubernetes v1.X.Y.
K8S_VERSION="${K8S_VERSION:-v1.${api_version#v0.}}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
BIN_DIR="${BIN_DIR:-$ROOT/bin/k8s}"
OUT="$BIN_DIR/${K8S_VERSION#v}"
WORK="$BIN_DIR/.build-${K8S_VERSION#v}"

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(kube-apiserver kubectl etcd)

export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
mkdir -p "$OUT" "$WORK/k8s" "$WORK/etcd"

missing=()
for c in "${components[@]}"; do
  case "$c" in
    kube-apiserver|kubectl|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|etcd) ;;
    *) die "unknown component '$c'" ;;
  esac
  if [[ -x "$OUT/$c" ]]; then say "$c $([[ $c == etcd ]] && echo "$ETCD_VERSION" || echo "$K8S_VERSION") already built in $OUT, skipping"; else missing+=("$c"); fi
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

# A throwaway module that requires k8s.io/kubernetes and replaces each of its
# staging modules (./staging/src/k8s.io/X in its own go.mod) by the published
# k8s.io/X release of the same minor version.
prepare_k8s_module() {
  local dir="$WORK/k8s"
  [[ -f "$dir/.ready" ]] && return 0
  say "resolving k8s.io/kubernetes@$K8S_VERSION (its staging modules pinned to $STAGING_VERSION)"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')" \
    || die "cannot download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  [[ -f "$gomod" ]] || die "no go.mod found for k8s.io/kubernetes@$K8S_VERSION"
  local goversion
  goversion="$(sed -n 's/^go \(.*\)/\1/p' "$gomod")"
  {
    echo "module wayfabric.local/k8sbuild"
    echo "go $goversion"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    # Replace lines look like: "	k8s.io/api => ./staging/src/k8s.io/api"
    grep -E '=> \./staging/src/' "$gomod" | sed -E 's/^[[:space:]]*(replace[[:space:]]+)?//' \
      | awk -v v="$STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  grep -q '^replace ' "$dir/go.mod" || die "found no staging replacements in k8s.io/kubernetes go.mod"
  printf 'package k8sbuild\n' >"$dir/doc.go"
  touch "$dir/.ready"
}

prepare_etcd_module() {
  local dir="$WORK/etcd"
  [[ -f "$dir/.ready-$ETCD_VERSION" ]] && return 0
  printf 'module wayfabric.local/etcdbuild\ngo 1.26\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/go.mod"
  printf 'package etcdbuild\n' >"$dir/doc.go"
  touch "$dir/.ready-$ETCD_VERSION"
}

build_k8s() {
  local c="$1" pkg="k8s.io/kubernetes/cmd/$1"
  [[ $c == kubectl ]] && pkg="k8s.io/kubernetes/cmd/kubectl"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  say "building $c $K8S_VERSION (cold: several minutes on 2 cores)"
  local start=$SECONDS
  (cd "$WORK/k8s" && go build -trimpath -ldflags "-s -w $ld" -o "$OUT/$c.tmp" "$pkg") \
    || die "building $c failed (see the go output above)"
  mv "$OUT/$c.tmp" "$OUT/$c"
  say "built $c in $((SECONDS - start))s"
}

build_etcd() {
  say "building etcd $ETCD_VERSION"
  local start=$SECONDS
  (cd "$WORK/etcd" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3) \
    || die "building etcd failed (see the go output above)"
  mv "$OUT/etcd.tmp" "$OUT/etcd"
  say "built etcd in $((SECONDS - start))s"
}

for c in "${missing[@]}"; do
  if [[ $c == etcd ]]; then prepare_etcd_module; build_etcd
  else prepare_k8s_module; build_k8s "$c"; fi
done
say "binaries ready in $OUT"
