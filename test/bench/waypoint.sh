#!/usr/bin/env bash
# Waypoint vs nginx vs HAProxy as HTTP/1.1 reverse proxies, in one run, on
# one machine: same backend (an nginx answering 200 "ok"), same load
# generator (wrk), same keep-alive settings (client and upstream).
#
# Modes:
#   plain  wrk → proxy → backend, plain HTTP/1.1 both sides.
#   tls    mutual TLS 1.3 on both sides of the proxy:
#            waypoint: wrk → benchpeer (client ztunnel) ══HBONE══▶ waypoint ══HBONE══▶ benchpeer (destination ztunnel) → backend
#            nginx, HAProxy: wrk → benchpeer ══mTLS══▶ proxy ══TLS (client cert)══▶ backend nginx (TLS listener)
#          benchpeer (test/bench/benchpeer) does the client-side TLS for all three.
#
# Placement: the proxy under test is pinned to CPU BENCH_PROXY_CPU (waypoint
# GOMAXPROCS=1, nginx 1 worker, HAProxy nbthread 1); wrk, the backend and
# benchpeer run on BENCH_LOAD_CPUS. Figures per proxy and mode:
#   - saturation req/s (wrk -c BENCH_CONNECTIONS), and req/s per proxy core =
#     req/s / CPU the proxy used (utime+stime from /proc): fair even when the
#     load side, not the proxy, is the bottleneck
#   - p50/p99 at half of that proxy's own saturation rate (wrk with a
#     per-connection delay), and proxy CPU per 1,000 req/s in that run
#   - peak RSS (VmHWM) of the proxy's processes
# Every proxy runs BENCH_ROUNDS times, interleaved (round 1: all proxies,
# round 2: all proxies, ...); the table shows medians and the ratio of
# medians to nginx, plus the range of the per-round ratios.
#
#   - CPU per 1,000 req/s at a common offered rate (BENCH_RATE, default 1000)
# As root, every benchmark process runs at nice BENCH_NICE (default -10), so
# other work on a shared machine disturbs the figures less.
#
# Bounded: about BENCH_ROUNDS × modes × 3 × (4 + BENCH_SECONDS + 2 × BENCH_RATE_SECONDS) seconds.
# Installs nginx, HAProxy and wrk with apt-get if missing. Stops what it
# started, by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_SAT=${BENCH_SECONDS:-8}
SECONDS_RATE=${BENCH_RATE_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-32}
MODES=${BENCH_MODES:-plain tls}
PROXIES=${BENCH_PROXIES:-waypoint nginx haproxy}
PORT_BASE=${BENCH_PORT_BASE:-18180}
PROXY_CPU=${BENCH_PROXY_CPU:-1}
LOAD_CPUS=${BENCH_LOAD_CPUS:-0}
OUT=${BENCH_OUT:-}
WAYPOINT_ENV=${BENCH_WAYPOINT_ENV:-} # extra environment for the waypoint, e.g. GOGC=100
PROFILE=${BENCH_PROFILE:-}          # file prefix: CPU profile of each waypoint saturation run (costs a few % CPU)
RATE=${BENCH_RATE:-1000}             # common fixed rate (req/s) for every proxy: CPU per 1,000 req/s at equal load
NICE=${BENCH_NICE:--10}              # as root: run everything of the benchmark at this nice level, ahead of other builds on the machine
BASELINE_REF=${BENCH_BASELINE_REF:-} # git ref: also measure the waypoint built from it ("waypoint-base", plain mode only)

BACKEND_PORT=$PORT_BASE
BACKEND_TLS_PORT=$((PORT_BASE + 1))
PROXY_PORT=$((PORT_BASE + 2))     # the proxy's plain or TLS listener (nginx, HAProxy); the waypoint's plaintext listener
HBONE_PORT=$((PORT_BASE + 3))     # the waypoint's HBONE listener
PEER_PORT=$((PORT_BASE + 4))      # the destination "ztunnel" (benchpeer server)
CLIENT_PORT=$((PORT_BASE + 5))    # the client "ztunnel" (benchpeer client), tls mode
STATS_PORT=$((PORT_BASE + 6))
READY_PORT=$((PORT_BASE + 7))
DEBUG_PORT=$((PORT_BASE + 8))

need() {
  local missing=()
  command -v nginx >/dev/null || missing+=(nginx-light)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v taskset >/dev/null || missing+=(util-linux)
  command -v curl >/dev/null || missing+=(curl)
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

PRIO=()
if [[ $(id -u) == 0 && $NICE != 0 ]]; then PRIO=(nice -n "$NICE"); fi

WORK=$(mktemp -d /tmp/waypoint-bench.XXXXXX)
PIDS=()
stop_pids() { # stop the given PIDs (and wait for them)
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  stop_pids "${PIDS[@]}"
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # cpu-list command... → LAST_PID
  local cpus=$1
  shift
  "${PRIO[@]}" taskset -c "$cpus" "$@" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

wait_http() { # url [curl args]
  local url=$1
  shift
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timeout waiting for $url" >&2
  exit 1
}

wait_port() { # port
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timeout waiting for port $1" >&2
  exit 1
}

# --- build and certificates -------------------------------------------------

echo "building waypoint and benchpeer" >&2
(cd "$ROOT" && go build -o "$WORK/waypoint" ./cmd/waypoint && go build -o "$WORK/benchpeer" ./test/bench/benchpeer)
if [[ -n $BASELINE_REF ]]; then
  echo "building waypoint at $BASELINE_REF" >&2
  mkdir -p "$WORK/base-src"
  (cd "$ROOT" && git archive "$BASELINE_REF" | tar -x -C "$WORK/base-src")
  (cd "$WORK/base-src" && go build -o "$WORK/waypoint-base" ./cmd/waypoint)
  PROXIES="$PROXIES waypoint-base"
fi
CERTS=$WORK/certs
mkdir -p "$CERTS"
"$WORK/benchpeer" certs "$CERTS"
cat "$CERTS/proxy.pem" "$CERTS/proxy.key" >"$CERTS/proxy-bundle.pem"       # HAProxy wants cert and key in one file
cat "$CERTS/proxy.pem" "$CERTS/proxy.key" >"$CERTS/proxy-client.pem"       # ... also for its client certificate
TLS_PROTOCOLS="TLSv1.3"

# --- backend ------------------------------------------------------------------

mkdir -p "$WORK/backend/logs"
cat >"$WORK/backend/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$BACKEND_PORT backlog=4096;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$BACKEND_TLS_PORT ssl backlog=4096;
    ssl_protocols $TLS_PROTOCOLS;
    ssl_certificate $CERTS/upstream.pem;
    ssl_certificate_key $CERTS/upstream.key;
    ssl_client_certificate $CERTS/ca.pem;
    ssl_verify_client on;
    location / { return 200 "ok\n"; }
  }
}
EOF
start "$LOAD_CPUS" nginx -p "$WORK/backend" -c "$WORK/backend/nginx.conf" -g 'daemon off;'
# The destination's ztunnel for the waypoint's HBONE upstream.
start "$LOAD_CPUS" "$WORK/benchpeer" server -certs "$CERTS" -listen "127.0.0.1:$PEER_PORT" -to "127.0.0.1:$BACKEND_PORT"
wait_http "http://127.0.0.1:$BACKEND_PORT/"
wait_port "$PEER_PORT"

# --- proxies ------------------------------------------------------------------

# start_proxy NAME MODE → PROXY_PID, URL (what wrk hits), helper PIDs in AUX_PIDS
start_proxy() {
  local name=$1 mode=$2 dir=$WORK/$1-$2
  mkdir -p "$dir/logs"
  AUX_PIDS=()
  case $name in
  nginx)
    local listen upstream pass
    if [[ $mode == tls ]]; then
      listen="listen 127.0.0.1:$PROXY_PORT ssl backlog=4096;
    ssl_protocols $TLS_PROTOCOLS; ssl_certificate $CERTS/proxy.pem; ssl_certificate_key $CERTS/proxy.key;
    ssl_client_certificate $CERTS/ca.pem; ssl_verify_client on;"
      upstream="server 127.0.0.1:$BACKEND_TLS_PORT; keepalive 64;"
      pass="proxy_pass https://be; proxy_ssl_protocols $TLS_PROTOCOLS; proxy_ssl_certificate $CERTS/proxy.pem; proxy_ssl_certificate_key $CERTS/proxy.key;
      proxy_ssl_trusted_certificate $CERTS/ca.pem; proxy_ssl_verify on; proxy_ssl_name localhost; proxy_ssl_session_reuse on;"
    else
      listen="listen 127.0.0.1:$PROXY_PORT backlog=4096;"
      upstream="server 127.0.0.1:$BACKEND_PORT; keepalive 64;"
      pass="proxy_pass http://be;"
    fi
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { $upstream }
  server {
    $listen
    location / { $pass proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
    start "$PROXY_CPU" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
    PROXY_PID=$LAST_PID
    ;;
  haproxy)
    local bind server
    if [[ $mode == tls ]]; then
      bind="bind 127.0.0.1:$PROXY_PORT ssl crt $CERTS/proxy-bundle.pem ca-file $CERTS/ca.pem verify required ssl-min-ver TLSv1.3 alpn http/1.1"
      server="server be 127.0.0.1:$BACKEND_TLS_PORT ssl verify required ca-file $CERTS/ca.pem crt $CERTS/proxy-client.pem sni str(localhost) ssl-min-ver TLSv1.3"
    else
      bind="bind 127.0.0.1:$PROXY_PORT"
      server="server be 127.0.0.1:$BACKEND_PORT"
    fi
    cat >"$dir/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  $bind
  default_backend be
backend be
  $server
EOF
    start "$PROXY_CPU" haproxy -db -f "$dir/haproxy.cfg"
    PROXY_PID=$LAST_PID
    ;;
  waypoint | waypoint-base)
    local ambient="" args=(--hbone-addr=)
    if [[ $mode == tls ]]; then
      ambient=", mesh.wayfabric.io/dataplane-mode: ambient"
      args=(--hbone-addr="127.0.0.1:$HBONE_PORT" --service-account=wp --root-cert="$CERTS/ca.pem"
        --cert-file="$CERTS/proxy.pem" --key-file="$CERTS/proxy.key" --hbone-peer-port="$PEER_PORT")
    else
      args+=(--plaintext-listener="127.0.0.1:$PROXY_PORT=10.96.0.10:80")
    fi
    cat >"$dir/waypoint.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {mesh.wayfabric.io/use-waypoint: wp$ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec: {clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10], ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: bench}
spec: {serviceAccountName: backend, containers: [{name: web, image: nginx}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: $BACKEND_PORT}]
endpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, namespace: bench, name: web-0}}]
EOF
    # shellcheck disable=SC2086
    start "$PROXY_CPU" env GOMAXPROCS=1 $WAYPOINT_ENV "$WORK/$name" --namespace=bench --waypoint-name=wp \
      --static-config="$dir/waypoint.yaml" --stats-addr="127.0.0.1:$STATS_PORT" --ready-addr="127.0.0.1:$READY_PORT" \
      ${PROFILE:+--debug-addr=127.0.0.1:$DEBUG_PORT} "${args[@]}" 2>"$dir/waypoint.log"
    PROXY_PID=$LAST_PID
    wait_http "http://127.0.0.1:$READY_PORT/healthz/ready"
    ;;
  esac
  if [[ $mode == tls ]]; then
    local peer=(-tls "127.0.0.1:$PROXY_PORT")
    [[ $name == waypoint* ]] && peer=(-hbone "127.0.0.1:$HBONE_PORT" -target 10.96.0.10:80)
    wait_port "${peer[1]##*:}"
    start "$LOAD_CPUS" "$WORK/benchpeer" client -certs "$CERTS" -listen "127.0.0.1:$CLIENT_PORT" "${peer[@]}"
    AUX_PIDS+=("$LAST_PID")
    URL_PORT=$CLIENT_PORT
  else
    URL_PORT=$PROXY_PORT
  fi
  wait_http "http://127.0.0.1:$URL_PORT/"
}

stop_proxy() {
  stop_pids "$PROXY_PID" "${AUX_PIDS[@]}"
}

# --- measurement helpers ---------------------------------------------------

TICK=$(getconf CLK_TCK)
proc_tree() { echo "$1" $(pgrep -P "$1" || true); }
cpu_ticks() { # total utime+stime of pid and its children
  local t=0 p
  for p in $(proc_tree "$1"); do
    read -r -a f <"/proc/$p/stat"
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
rss_kb() { # pid [field]: peak resident set (VmHWM, or another /proc status field) summed over the tree
  local t=0 p field=${2:-VmHWM}
  for p in $(proc_tree "$1"); do
    t=$((t + $(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status")))
  done
  echo "$t"
}
to_ms() { # wrk latency like 1.23ms / 456.00us / 1.01s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

cat >"$WORK/rate.lua" <<'EOF'
-- Each connection waits WRK_DELAY_MS between requests: a fixed offered rate.
local d = tonumber(os.getenv("WRK_DELAY_MS") or "10")
function delay() return d end
EOF

run_wrk() { # pid port seconds conns [script] → "rps p50ms p99ms cpu_cores errors"
  local pid=$1 port=$2 secs=$3 conns=$4 script=${5:-}
  local args=(-t1 -c"$conns" -d"${secs}s" --latency)
  [[ -n $script ]] && args+=(-s "$script")
  local c0 c1 out
  c0=$(cpu_ticks "$pid")
  out=$("${PRIO[@]}" taskset -c "$LOAD_CPUS" wrk "${args[@]}" "http://127.0.0.1:$port/")
  c1=$(cpu_ticks "$pid")
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  local cores
  cores=$(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v s="$secs" 'BEGIN { printf "%.3f", (b - a) / t / s }')
  echo "$rps $p50 $p99 $cores $errs"
}

RESULTS=$WORK/results.tsv # round mode proxy metric value
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

measure() { # round mode proxy
  local round=$1 mode=$2 name=$3
  start_proxy "$name" "$mode"
  "${PRIO[@]}" taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$URL_PORT/" >/dev/null # warm-up
  local prof_pid=
  if [[ -n $PROFILE && $name == waypoint ]]; then
    curl -fsS -o "$PROFILE-$mode-$round.pprof" "http://127.0.0.1:$DEBUG_PORT/debug/pprof/profile?seconds=$SECONDS_SAT" &
    prof_pid=$!
  fi
  local rps p50 p99 cores errs
  read -r rps p50 p99 cores errs <<<"$(run_wrk "$PROXY_PID" "$URL_PORT" "$SECONDS_SAT" "$CONNS")"
  [[ -n $prof_pid ]] && { wait "$prof_pid" || echo "profile failed" >&2; }
  record "$round" "$mode" "$name" sat_rps "$rps"
  record "$round" "$mode" "$name" sat_cores "$cores"
  record "$round" "$mode" "$name" per_core "$(awk -v r="$rps" -v c="$cores" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')"
  record "$round" "$mode" "$name" sat_p99 "$p99"
  ((errs > 0)) && echo "wrk: $errs errors at saturation ($name, $mode)" >&2
  # Half of this proxy's own peak: connections × (1000 / delay ms) req/s offered.
  local delay=10 half conns
  half=$(awk -v r="$rps" 'BEGIN { printf "%d", r / 2 }')
  conns=$(((half * delay + 999) / 1000))
  ((conns < 1)) && conns=1
  export WRK_DELAY_MS=$delay
  read -r rps p50 p99 cores errs <<<"$(run_wrk "$PROXY_PID" "$URL_PORT" "$SECONDS_RATE" "$conns" "$WORK/rate.lua")"
  record "$round" "$mode" "$name" half_rps "$rps"
  record "$round" "$mode" "$name" half_p50 "$p50"
  record "$round" "$mode" "$name" half_p99 "$p99"
  record "$round" "$mode" "$name" cpu_per_k "$(awk -v r="$rps" -v c="$cores" 'BEGIN { printf "%.4f", (r > 0 ? c / (r / 1000) : 0) }')"
  ((errs > 0)) && echo "wrk: $errs errors at half load ($name, $mode)" >&2
  # The same offered rate for every proxy: CPU per request at equal load.
  conns=$(((RATE * delay + 999) / 1000))
  read -r rps p50 p99 cores errs <<<"$(run_wrk "$PROXY_PID" "$URL_PORT" "$SECONDS_RATE" "$conns" "$WORK/rate.lua")"
  record "$round" "$mode" "$name" fixed_rps "$rps"
  record "$round" "$mode" "$name" fixed_cpu_per_k "$(awk -v r="$rps" -v c="$cores" 'BEGIN { printf "%.4f", (r > 0 ? c / (r / 1000) : 0) }')"
  record "$round" "$mode" "$name" rss_mb "$(awk -v k="$(rss_kb "$PROXY_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
  record "$round" "$mode" "$name" anon_mb "$(awk -v k="$(rss_kb "$PROXY_PID" RssAnon)" 'BEGIN { printf "%.1f", k / 1024 }')"
  stop_proxy
}

for ((round = 1; round <= ROUNDS; round++)); do
  for mode in $MODES; do
    for name in $PROXIES; do
      [[ $name == waypoint-base && $mode == tls ]] && continue # no static-certificate flags before this change
      echo "round $round/$ROUNDS: $name ($mode)" >&2
      measure "$round" "$mode" "$name"
    done
  done
done

# --- report -----------------------------------------------------------------

report() {
  echo "### waypoint vs nginx vs HAProxy — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Proxy pinned to CPU $PROXY_CPU (waypoint GOMAXPROCS=1${WAYPOINT_ENV:+ $WAYPOINT_ENV}, nginx 1 worker, HAProxy nbthread 1); wrk, backend and benchpeer on CPU $LOAD_CPUS."
  echo "Saturation: wrk -c$CONNS for ${SECONDS_SAT}s. Half load: half of each proxy's own saturation rate for ${SECONDS_RATE}s. Common rate: ~$RATE req/s offered to each for ${SECONDS_RATE}s.${PRIO[*]:+ All benchmark processes at ${PRIO[*]}.}"
  echo "$ROUNDS round(s), proxies interleaved; medians, ratio of medians to nginx, [range of per-round ratios]."
  echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), HAProxy $(haproxy -v | awk 'NR == 1 {print $3}'), $(go version | awk '{print $3}')."
  awk -F'\t' -v modes="$MODES" -v proxies="$PROXIES" '
  function median(key,   n, i, j, t, a) {
    n = cnt[key]; if (n == 0) return ""
    for (i = 1; i <= n; i++) a[i] = v[key, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { key = $2 SUBSEP $3 SUBSEP $4; cnt[key]++; v[key, cnt[key]] = $5; per[$1, $2, $3, $4] = $5; if ($1 > rounds) rounds = $1 }
  END {
    split(modes, M, " "); split(proxies, P, " ")
    names["sat_rps"] = "saturation req/s"; names["sat_cores"] = "proxy CPU cores used at saturation"
    names["per_core"] = "**req/s per proxy core**"; names["sat_p99"] = "p99 at saturation (ms)"
    names["half_rps"] = "half-load achieved req/s"; names["half_p50"] = "p50 at half load (ms)"
    names["half_p99"] = "p99 at half load (ms)"; names["cpu_per_k"] = "CPU (vCPU) per 1,000 req/s at half load"
    names["rss_mb"] = "peak RSS (MB)"; names["anon_mb"] = "anonymous RSS at the end (MB; the rest is the binary\x27s file pages)"
    names["fixed_rps"] = "common-rate achieved req/s"; names["fixed_cpu_per_k"] = "**CPU (vCPU) per 1,000 req/s at the common rate**"
    split("per_core sat_rps sat_cores sat_p99 half_rps half_p50 half_p99 cpu_per_k fixed_rps fixed_cpu_per_k rss_mb anon_mb", K, " ")
    for (mi = 1; mi in M; mi++) {
      m = M[mi]
      printf "\n#### %s\n\n| metric |", (m == "tls" ? "mutual TLS on both sides (waypoint: HBONE in and out)" : "plain HTTP/1.1")
      for (pi = 1; pi in P; pi++) printf " %s |", P[pi]
      for (pi = 1; pi in P; pi++) if (P[pi] != "nginx") printf " %s / nginx |", P[pi]
      printf "\n|---|"
      for (pi = 1; pi in P; pi++) printf "---:|"
      for (pi = 1; pi in P; pi++) if (P[pi] != "nginx") printf "---:|"
      printf "\n"
      for (ki = 1; ki in K; ki++) {
        k = K[ki]
        printf "| %s |", names[k]
        for (pi = 1; pi in P; pi++) printf " %s |", median(m SUBSEP P[pi] SUBSEP k)
        base = median(m SUBSEP "nginx" SUBSEP k)
        for (pi = 1; pi in P; pi++) {
          p = P[pi]; if (p == "nginx") continue
          x = median(m SUBSEP p SUBSEP k)
          if (base == "" || base + 0 == 0 || x == "") { printf " n/a |"; continue }
          lo = ""; hi = ""
          for (r = 1; r <= rounds; r++) {
            if (per[r, m, "nginx", k] + 0 == 0 || per[r, m, p, k] == "") continue
            q = per[r, m, p, k] / per[r, m, "nginx", k]
            if (lo == "" || q < lo) lo = q
            if (hi == "" || q > hi) hi = q
          }
          printf " %.2f [%.2f–%.2f] |", x / base, lo, hi
        }
        printf "\n"
      }
    }
  }' "$RESULTS"
}
report | tee ${OUT:+"$OUT"}
