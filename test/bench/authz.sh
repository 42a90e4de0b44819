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
# measured CPU use. The three waypoints run at the same time on the same
# CPU, each with its own wrk, so load from other processes on the machine
# hits every configuration alike; the median of BENCH_ROUNDS (default 5)
# rounds is reported.
#
# Bounded: 6 s of warm-up plus rounds × BENCH_SECONDS seconds (~1 min).
# Installs nginx and wrk with apt-get if missing. Stops what it started by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_SAT=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-5}
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

# shellcheck source=lib.sh
. "$ROOT/test/bench/lib.sh"
bench_setup authz-bench

nginx_conf backend "$BACKEND_PORT" "" 'location / { return 200 "ok\n"; }'
taskset -c "$LOAD_CPUS" nginx -p "$WORK/backend" -c "$WORK/backend/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# config RULES → the static configuration with that many rules.
config() {
  web_config "$BACKEND_PORT"
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

# All three waypoints run at once on the same CPU, each loaded by its own
# wrk: whatever else runs on the machine slows them alike, so their ratios
# hold even when absolute figures move.
declare -A WPID PORT
for i in "${!RULES[@]}"; do
  n=${RULES[$i]}
  PORT[$n]=$((WAYPOINT_PORT + 10 * i))
  taskset -c "$PROXY_CPU" env GOMAXPROCS=1 "$WORK/waypoint" --namespace=bench --waypoint-name=wp --hbone-addr= \
    --static-config="$WORK/rules-$n.yaml" --stats-addr=127.0.0.1:$((STATS_PORT + 10 * i)) --ready-addr=127.0.0.1:$((READY_PORT + 10 * i)) \
    --plaintext-listener=127.0.0.1:${PORT[$n]}=10.96.0.10:80 2>"$WORK/waypoint-$n.log" &
  WPID[$n]=$!
  PIDS+=("${WPID[$n]}")
  wait_http "http://127.0.0.1:$((READY_PORT + 10 * i))/healthz/ready"
  wait_http "http://127.0.0.1:${PORT[$n]}/"
done
wait_http "http://127.0.0.1:$BACKEND_PORT/"

# round SECONDS → appends each configuration's req/s, cores and req/s per core
declare -A PER_CORE RPS CORES
round() {
  local n secs=$1
  declare -A c0 out
  for n in "${RULES[@]}"; do c0[$n]=$(cpu_ticks "${WPID[$n]}"); done
  local wrks=()
  for n in "${RULES[@]}"; do
    taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d"${secs}s" "http://127.0.0.1:${PORT[$n]}/" >"$WORK/wrk-$n.out" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  for n in "${RULES[@]}"; do
    local o r c
    o=$(cat "$WORK/wrk-$n.out")
    if grep -qE 'Non-2xx|Socket errors' <<<"$o"; then
      echo "wrk reported errors with $n rules:" >&2
      grep -E 'Non-2xx|Socket errors' <<<"$o" >&2
      exit 1
    fi
    r=$(awk '/^Requests\/sec/ {print $2}' <<<"$o")
    c=$(awk -v a="${c0[$n]}" -v b="$(cpu_ticks "${WPID[$n]}")" -v t="$TICK" -v s="$secs" 'BEGIN { printf "%.3f", (b - a) / t / s }')
    RPS[$n]+="$r " CORES[$n]+="$c " PER_CORE[$n]+="$(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }') "
  done
}

echo "warming up" >&2
for n in "${RULES[@]}"; do taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:${PORT[$n]}/" >/dev/null; done
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r of $ROUNDS" >&2
  round "$SECONDS_SAT"
done
for i in "${!RULES[@]}"; do
  n=${RULES[$i]}
  ((n == 0)) && continue
  allowed=$(curl -fsS "http://127.0.0.1:$((STATS_PORT + 10 * i))/metrics" | awk '/^wayfabric_waypoint_authz_decisions_total.*decision="allowed".*reason="allow_rule"/ {s += $2} END {print s + 0}')
  if [[ $allowed == 0 ]]; then
    echo "the policy with $n rules allowed nothing: not measuring what we think" >&2
    exit 1
  fi
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

report() {
  local base
  base=$(median "${PER_CORE[0]}")
  echo "### waypoint with authorization rules — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Three waypoints (0, 10, 100 rules) run at once, pinned to CPU $PROXY_CPU (GOMAXPROCS=1 each), each loaded by its own wrk -c$CONNS for ${SECONDS_SAT}s; wrk and the nginx backend on CPU $LOAD_CPUS. Median of $ROUNDS rounds."
  echo
  echo "| rules on the destination | req/s | waypoint CPU (cores) | req/s per core | per core / no policy | per-round ratios | per-core values of the rounds |"
  echo "|---:|---:|---:|---:|---:|---|---|"
  local -a basev
  read -r -a basev <<<"${PER_CORE[0]}"
  for n in "${RULES[@]}"; do
    local pc ratios="" i=0 v
    pc=$(median "${PER_CORE[$n]}")
    for v in ${PER_CORE[$n]}; do
      ratios+="$(ratio "$v" "${basev[$i]}") "
      i=$((i + 1))
    done
    echo "| $n | $(median "${RPS[$n]}") | $(median "${CORES[$n]}") | $pc | $(ratio "$pc" "$base") (median of rounds $(median "$ratios")) | $ratios| ${PER_CORE[$n]}|"
  done
}
report | tee ${OUT:+"$OUT"}
