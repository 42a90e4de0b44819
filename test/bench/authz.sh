#!/usr/bin/env bash
# Waypoint requests/s per core with 0, 10 and 100 authorization rules on the
# destination, as a ratio to no policy, measured in the same run.
#
# The real waypoint binary (static configuration, plaintext listener, pinned
# to one CPU with GOMAXPROCS=1) proxies HTTP/1.1 from wrk to an nginx backend
# answering 200 "ok"; wrk and nginx run on the other CPU. For the rule
# counts, an ALLOW policy on the Service has N rules of which only the last
# matches (every rule is evaluated, each one matching its source and missing
# its path, so from and to are both checked), plus a DENY policy that never
# matches. Requests/s per core is wrk's requests/s divided by the waypoint's
# measured CPU use. Rounds interleave the three configurations (BENCH_ROUNDS,
# default 3) and the median per configuration is reported, so load from
# other processes on the machine hits every configuration alike.
#
# Bounded: rounds × 3 × (2 s warm-up + BENCH_SECONDS) seconds (~2 min).
# Installs nginx and wrk with apt-get if missing. Stops what it started by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_SAT=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-32}
PORT_BASE=${BENCH_PORT_BASE:-18280}
PROXY_CPU=${BENCH_PROXY_CPU:-1}
LOAD_CPUS=${BENCH_LOAD_CPUS:-0}
OUT=${BENCH_OUT:-}
RULES=(0 10 100)

BACKEND_PORT=$PORT_BASE
WAYPOINT_PORT=$((PORT_BASE + 1))
STATS_PORT=$((PORT_BASE + 2))
READY_PORT=$((PORT_BASE + 3))

need() {
  local missing=()
  command -v nginx >/dev/null || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  if ((${#missing[@]})); then
    echo "installing ${missing[*]} (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
need
if (($(nproc) < 2)); then
  echo "need at least 2 CPUs (proxy on one, load on the other)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/authz-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timeout waiting for $1" >&2
  exit 1
}

mkdir -p "$WORK/backend/logs"
cat >"$WORK/backend/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND_PORT backlog=4096; location / { return 200 "ok\n"; } }
}
EOF
taskset -c "$LOAD_CPUS" nginx -p "$WORK/backend" -c "$WORK/backend/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# config RULES → the static configuration with that many rules.
config() {
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {mesh.wayfabric.io/use-waypoint: wp}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec: {clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10], ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: $BACKEND_PORT}]
endpoints: [{addresses: [127.0.0.1]}]
EOF
  (($1 == 0)) && return
  echo "---"
  echo "apiVersion: mesh.wayfabric.io/v1alpha1"
  echo "kind: AuthorizationPolicy"
  echo "metadata: {name: allow, namespace: bench}"
  echo "spec:"
  echo "  targetRefs: [{kind: Service, name: web}]"
  echo "  rules:"
  for ((i = 1; i < $1; i++)); do
    echo "  - from: [{source: {ipBlocks: [127.0.0.0/8], notNamespaces: [team-$i]}}]"
    echo "    to: [{operation: {methods: [GET, POST], paths: ['/api/v$i/*'], hosts: ['*.bench', 'web:*']}}]"
    echo "    when: [{key: 'request.headers[x-tenant]', values: ['t$i']}]"
  done
  echo "  - from: [{source: {ipBlocks: [127.0.0.0/8]}}]"
  echo "    to: [{operation: {methods: [GET], paths: ['/*']}}]"
  echo "---"
  echo "apiVersion: mesh.wayfabric.io/v1alpha1"
  echo "kind: AuthorizationPolicy"
  echo "metadata: {name: deny, namespace: bench}"
  echo "spec: {targetRefs: [{kind: Service, name: web}], action: DENY, rules: [{from: [{source: {ipBlocks: [10.66.0.0/16]}}]}]}"
}

echo "building waypoint" >&2
(cd "$ROOT" && go build -o "$WORK/waypoint" ./cmd/waypoint)
for n in "${RULES[@]}"; do config "$n" >"$WORK/rules-$n.yaml"; done

TICK=$(getconf CLK_TCK)
cpu_ticks() { read -r -a f <"/proc/$1/stat"; echo $((f[13] + f[14])); }

# measure RULES → "rps cores per_core"
measure() {
  taskset -c "$PROXY_CPU" env GOMAXPROCS=1 "$WORK/waypoint" --namespace=bench --waypoint-name=wp --hbone-addr= \
    --static-config="$WORK/rules-$1.yaml" --stats-addr=127.0.0.1:$STATS_PORT --ready-addr=127.0.0.1:$READY_PORT \
    --plaintext-listener=127.0.0.1:$WAYPOINT_PORT=10.96.0.10:80 2>"$WORK/waypoint-$1.log" &
  local pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$READY_PORT/healthz/ready"
  wait_http "http://127.0.0.1:$WAYPOINT_PORT/"
  taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$WAYPOINT_PORT/" >/dev/null # warm-up
  local c0 c1 out rps cores
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d"${SECONDS_SAT}s" "http://127.0.0.1:$WAYPOINT_PORT/")
  c1=$(cpu_ticks "$pid")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "wrk reported errors with $1 rules:" >&2
    grep -E 'Non-2xx|Socket errors' <<<"$out" >&2
    exit 1
  fi
  local allowed
  allowed=$(curl -fsS "http://127.0.0.1:$STATS_PORT/metrics" | awk '/^wayfabric_waypoint_authz_decisions_total.*decision="allowed".*reason="allow_rule"/ {s += $2} END {print s + 0}')
  if (($1 > 0)) && [[ $allowed == 0 ]]; then
    echo "the policy with $1 rules allowed nothing: not measuring what we think" >&2
    exit 1
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  cores=$(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v s="$SECONDS_SAT" 'BEGIN { printf "%.3f", (b - a) / t / s }')
  echo "$rps $cores $(awk -v r="$rps" -v c="$cores" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')"
}

wait_http "http://127.0.0.1:$BACKEND_PORT/"
declare -A PER_CORE RPS CORES
for ((round = 1; round <= ROUNDS; round++)); do
  for n in "${RULES[@]}"; do
    echo "round $round: $n rules" >&2
    read -r r c p <<<"$(measure "$n")"
    RPS[$n]+="$r " CORES[$n]+="$c " PER_CORE[$n]+="$p "
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

report() {
  local base
  base=$(median "${PER_CORE[0]}")
  echo "### waypoint with authorization rules — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Waypoint pinned to CPU $PROXY_CPU (GOMAXPROCS=1), wrk -c$CONNS for ${SECONDS_SAT}s and the nginx backend on CPU $LOAD_CPUS; median of $ROUNDS interleaved rounds."
  echo
  echo "| rules on the destination | req/s | waypoint CPU (cores) | req/s per core | per core / no policy | per-core values of the rounds |"
  echo "|---:|---:|---:|---:|---:|---|"
  for n in "${RULES[@]}"; do
    local pc
    pc=$(median "${PER_CORE[$n]}")
    echo "| $n | $(median "${RPS[$n]}") | $(median "${CORES[$n]}") | $pc | $(ratio "$pc" "$base") | ${PER_CORE[$n]}|"
  done
}
report | tee ${OUT:+"$OUT"}
