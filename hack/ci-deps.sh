#!/usr/bin/env bash
# Installs the machine packages the test suites use. Idempotent: installs only
# what is missing, so it costs nothing on a prepared machine.
set -euo pipefail
need=()
command -v go >/dev/null || { echo "ci-deps: Go 1.26+ must be installed (/usr/local/go)" >&2; exit 1; }
command -v git >/dev/null || need+=(git)
command -v make >/dev/null || need+=(make)
command -v node >/dev/null || need+=(nodejs)   # HBONE interop test against Node.js http2
command -v ip >/dev/null || need+=(iproute2)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "ci-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "ci-deps: go $(go env GOVERSION), node $(node --version 2>/dev/null || echo absent)"
