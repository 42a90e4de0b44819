#!/usr/bin/env bash
# HBONE benchmarks: every figure is a ratio to plain loopback TCP measured
# in the same run (same machine, same moment).
#
#   - single-stream throughput client → server: direct TCP vs HBONE to a TCP
#     target (ztunnel inbound) and HBONE to an in-process handler (waypoint)
#   - small request/response latency p50/p99 at a fixed rate (1,000 req/s):
#     persistent connection/stream, and a new connection/stream per request
#   - allocations and time per stream (open, 64-byte exchange, close)
#
# Bounded: about (BENCH_COUNT × 3 × BENCH_TIME) + 4 × BENCH_REQUESTS/1000 s.
# Needs only Go. Writes Markdown to BENCH_OUT (default: stdout only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${BENCH_COUNT:-5}          # interleaved repetitions of the throughput runs
TIME=${BENCH_TIME:-2s}           # per throughput run
REQUESTS=${BENCH_REQUESTS:-5000} # per latency variant (at 1,000 req/s: 5 s)
OUT=${BENCH_OUT:-}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

cd "$ROOT"
echo "hbone bench: throughput (${COUNT} x ${TIME} per variant, interleaved)..." >&2
go test -c -o "$RAW.test" ./proxy/hbone/
trap 'rm -f "$RAW" "$RAW.test"' EXIT
# One process per round, all variants in each round: a change in machine
# load hits baseline and HBONE alike instead of skewing the ratio.
for ((i = 1; i <= COUNT; i++)); do
  (cd proxy/hbone && "$RAW.test" -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchtime "$TIME") | tee -a "$RAW" >&2
done
echo "hbone bench: latency at 1,000 req/s (${REQUESTS} requests per variant)..." >&2
go test -run '^$' -bench '^BenchmarkLatency$' -benchtime "${REQUESTS}x" -count 1 ./proxy/hbone/ | tee -a "$RAW" >&2
echo "hbone bench: per-stream cost..." >&2
go test -run '^$' -bench '^BenchmarkStreamLifecycle$' -benchtime 2s -benchmem -count 3 ./proxy/hbone/ | tee -a "$RAW" >&2

report=$(awk '
function median(name,   n, i, j, t, a) {
  n = cnt[name]; if (n == 0) return 0
  for (i = 1; i <= n; i++) a[i] = v[name, i]
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(name, x) { cnt[name]++; v[name, cnt[name]] = x }
/^BenchmarkThroughput\// {
  split($1, p, "/"); sub(/-[0-9]+$/, "", p[2])
  for (i = 2; i <= NF; i++) if ($i == "MB/s") add("tp:" p[2], $(i - 1))
}
/^BenchmarkLatency\// {
  split($1, p, "/"); sub(/-[0-9]+$/, "", p[2])
  for (i = 2; i <= NF; i++) { if ($i == "p50-us") add("p50:" p[2], $(i - 1)); if ($i == "p99-us") add("p99:" p[2], $(i - 1)) }
}
/^BenchmarkStreamLifecycle/ {
  for (i = 2; i <= NF; i++) { if ($i == "ns/op") add("life:ns", $(i - 1)); if ($i == "B/op") add("life:B", $(i - 1)); if ($i == "allocs/op") add("life:allocs", $(i - 1)) }
}
END {
  d = median("tp:direct-tcp"); h = median("tp:hbone-tcp-target"); w = median("tp:hbone-handler")
  # ratios per round (same process, same minute), then their median
  for (i = 1; i <= cnt["tp:direct-tcp"]; i++) { add("rh", v["tp:hbone-tcp-target", i] / v["tp:direct-tcp", i]); add("rw", v["tp:hbone-handler", i] / v["tp:direct-tcp", i]) }
  printf "| Single-stream throughput (median of %d rounds) | MB/s | ratio to direct TCP (median of per-round ratios) |\n|---|---:|---:|\n", cnt["tp:direct-tcp"]
  printf "| direct loopback TCP (baseline) | %.0f | 1.00 |\n", d
  printf "| HBONE → TCP target (ztunnel inbound) | %.0f | %.2f |\n", h, median("rh")
  printf "| HBONE → in-process handler (waypoint) | %.0f | %.2f |\n\n", w, median("rw")
  printf "| Latency at 1,000 req/s, 64 B each way | p50 µs | p99 µs | added p50 µs | added p99 µs |\n|---|---:|---:|---:|---:|\n"
  split("persistent per-request", kinds, " ")
  for (k = 1; k <= 2; k++) {
    dk = "direct-tcp-" kinds[k]; hk = "hbone-" kinds[k]
    printf "| direct TCP, %s (baseline) | %.1f | %.1f | | |\n", kinds[k], median("p50:" dk), median("p99:" dk)
    printf "| HBONE, %s | %.1f | %.1f | %+.1f | %+.1f |\n", kinds[k], median("p50:" hk), median("p99:" hk), median("p50:" hk) - median("p50:" dk), median("p99:" hk) - median("p99:" dk)
  }
  printf "\n| Per stream (open + 64 B exchange + close, both ends) | value |\n|---|---:|\n"
  printf "| time | %.1f µs |\n| allocations | %d |\n| bytes allocated | %d B |\n", median("life:ns") / 1000, median("life:allocs"), median("life:B")
}' "$RAW")

header="Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPU(s), $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "$header"
echo
echo "$report"
if [[ -n "$OUT" ]]; then
  printf '%s\n\n%s\n' "$header" "$report" >"$OUT"
  echo "written to $OUT" >&2
fi
