#!/usr/bin/env bash
# Imports image tarballs (docker-archive or OCI layout, e.g. from `make images`
# or hack/cluster/tool image) into the local cluster's containerd, where pods
# use them with imagePullPolicy: Never (or IfNotPresent with a non-latest tag).
#
#   hack/cluster/import-images.sh bin/images/manager-v0.1.0.tar [...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
(($#)) || die "usage: $0 IMAGE.tar..."
[[ -S $CONTAINERD_SOCK ]] || die "the local cluster is not up (no $CONTAINERD_SOCK); run hack/cluster/up.sh"
for f in "$@"; do
  say "importing $f"
  ctr_ images import "$f" | sed 's/^/  /' >&2
done
