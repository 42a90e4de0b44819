#!/usr/bin/env bash
# Size of the chained CNI plugin (cmd/wayfabric-cni) as shipped, against a
# baseline built in the same run: the same plugin with its API fallback
# written on client-go (clientcmd + typed clientset), which is what most CNI
# plugins that talk to Kubernetes do. Both are built like `make build`
# (CGO_ENABLED=0, -trimpath), with and without symbol tables (-s -w).
#
# Needs only Go; takes about a minute. Writes Markdown to BENCH_OUT (default:
# stdout only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-}
cd "$ROOT"
WORK=$(mktemp -d)
# The baseline has to live inside the module to use its go.mod.
BASE=$(mktemp -d "$ROOT/.cni-size-baseline.XXXXXX")
trap 'rm -rf "$WORK" "$BASE"' EXIT

cat >"$BASE/main.go" <<'GO'
// Baseline for test/bench/cni-size.sh: the plugin's API fallback on client-go.
package main

import (
	"context"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wayfabric/wayfabric/api/membership"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
)

func add(args *skel.CmdArgs) error {
	conf, err := cni.ParseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	f, err := os.Open(args.Netns)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx := context.Background()
	if _, err := cni.Notify(ctx, conf.SocketPath, cni.Request{Op: cni.OpAdd}, f); err == nil {
		return types.PrintResult(conf.PrevResult, conf.CNIVersion)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", conf.Kubeconfig)
	if err != nil {
		return err
	}
	kc := kubernetes.NewForConfigOrDie(cfg)
	pod, err := kc.CoreV1().Pods("ns").Get(ctx, "name", metav1.GetOptions{})
	if err != nil {
		return err
	}
	ns, err := kc.CoreV1().Namespaces().Get(ctx, "ns", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if membership.Enrolled(pod.Labels, ns.Labels) {
		return types.NewError(types.ErrTryAgainLater, "enrolled", "")
	}
	return types.PrintResult(conf.PrevResult, conf.CNIVersion)
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: add, Del: add, Check: add}, cni.SupportedVersions, "baseline")
}
GO

size() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

declare -A S
for flags in "" "-s -w"; do
  key=${flags:-full}
  echo "cni-size: building ($key)..." >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$WORK/plugin-$key" ./cmd/wayfabric-cni
  CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$WORK/base-$key" "./$(basename "$BASE")"
  S[plugin-$key]=$(size "$WORK/plugin-$key")
  S[base-$key]=$(size "$WORK/base-$key")
done

report=$(cat <<MD
| build ($(go env GOOS)/$(go env GOARCH), $(go version | awk '{print $3}')) | wayfabric-cni (net/http) | baseline (client-go) | ratio |
|---|---|---|---|
| CGO_ENABLED=0 -trimpath (as \`make build\`) | $(mib "${S[plugin-full]}") | $(mib "${S[base-full]}") | $(ratio "${S[plugin-full]}" "${S[base-full]}") |
| same, stripped (-s -w) | $(mib "${S[plugin--s -w]}") | $(mib "${S[base--s -w]}") | $(ratio "${S[plugin--s -w]}" "${S[base--s -w]}") |
MD
)
echo "$report"
if [[ -n $OUT ]]; then echo "$report" >"$OUT"; fi
