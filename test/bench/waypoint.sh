#!/usr/bin/env bash
# Waypoint vs nginx as an HTTP/1.1 reverse proxy on loopback, same load
# generator (wrk), same backend (a separate nginx answering 200 "ok").
#
# Each proxy is pinned to one CPU (taskset) and, for the waypoint,
# GOMAXPROCS=1; wrk and the backend share the other CPUs. Figures:
#   - saturation: requests/s and requests/s per proxy core (req/s divided by
#     the proxy's measured CPU use, so it stays fair if wrk is the bottleneck)
#   - fixed rate (BENCH_RATE req/s, default 1000): p50/p99 latency and proxy
#     CPU per 1,000 req/s
#   - RSS (peak, VmHWM) of the proxy processes
# Every figure is reported with the waypoint/nginx ratio measured in the same run.
#
# Bounded: ~2 × (BENCH_SECONDS + BENCH_RATE_SECONDS + 2 × warm-up) seconds.
# Installs nginx and wrk with apt-get if missing. Stops what it started by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_SAT=${BENCH_SECONDS:-10}
SECONDS_RATE=${BENCH_RATE_SECONDS:-10}
RATE=${BENCH_RATE:-1000}
CONNS=${BENCH_CONNECTIONS:-32}
PORT_BASE=${BENCH_PORT_BASE:-18180}
PROXY_CPU=${BENCH_PROXY_CPU:-1}
LOAD_CPUS=${BENCH_LOAD_CPUS:-0}
OUT=${BENCH_OUT:-}
WAYPOINT_ENV=${BENCH_WAYPOINT_ENV:-} # extra environment for the waypoint, e.g. GOGC=100 (its default is 200)
PROFILE=${BENCH_PROFILE:-}          # file: CPU profile of the waypoint's saturation run (profiling costs a few % CPU)

BACKEND_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
WAYPOINT_PORT=$((PORT_BASE + 2))
STATS_PORT=$((PORT_BASE + 3))
READY_PORT=$((PORT_BASE + 4))
DEBUG_PORT=$((PORT_BASE + 5))

# shellcheck source=lib.sh
. "$ROOT/test/bench/lib.sh"
bench_setup waypoint-bench

# --- processes -------------------------------------------------------------

start() { # cpu-list command...
  local cpus=$1
  shift
  taskset -c "$cpus" "$@" &
  PIDS+=($!)
}

nginx_conf backend "$BACKEND_PORT" "" 'location / { return 200 "ok\n"; }'
nginx_conf proxy "$NGINX_PORT" \
  "upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }" \
  'location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }'

web_config "$BACKEND_PORT" >"$WORK/waypoint.yaml"

echo "building waypoint" >&2
(cd "$ROOT" && go build -o "$WORK/waypoint" ./cmd/waypoint)

start "$LOAD_CPUS" nginx -p "$WORK/backend" -c "$WORK/backend/nginx.conf" -g 'daemon off;'
start "$PROXY_CPU" nginx -p "$WORK/proxy" -c "$WORK/proxy/nginx.conf" -g 'daemon off;'
NGINX_PID=${PIDS[-1]}
start "$PROXY_CPU" env GOMAXPROCS=1 $WAYPOINT_ENV "$WORK/waypoint" --namespace=bench --waypoint-name=wp --hbone-addr= \
  --static-config="$WORK/waypoint.yaml" --stats-addr=127.0.0.1:$STATS_PORT --ready-addr=127.0.0.1:$READY_PORT \
  --plaintext-listener=127.0.0.1:$WAYPOINT_PORT=10.96.0.10:80 ${PROFILE:+--debug-addr=127.0.0.1:$DEBUG_PORT} 2>"$WORK/waypoint.log"
WAYPOINT_PID=${PIDS[-1]}

wait_http "http://127.0.0.1:$BACKEND_PORT/"
wait_http "http://127.0.0.1:$NGINX_PORT/"
wait_http "http://127.0.0.1:$READY_PORT/healthz/ready"
wait_http "http://127.0.0.1:$WAYPOINT_PORT/"

# --- measurement helpers ---------------------------------------------------

TICK=$(getconf CLK_TCK)
proc_tree() { echo "$1" $(pgrep -P "$1" || true); }
cpu_ticks() { # total utime+stime of pid and its children
  local t=0
  for p in $(proc_tree "$1"); do
    read -r -a f <"/proc/$p/stat"
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
rss_kb() { # peak resident set (VmHWM) summed over the tree
  local t=0
  for p in $(proc_tree "$1"); do
    t=$((t + $(awk '/^VmHWM/ {print $2}' "/proc/$p/status")))
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

run_wrk() { # pid port seconds conns [script] → "rps p50ms p99ms cpu_cores"
  local pid=$1 port=$2 secs=$3 conns=$4 script=${5:-}
  local args=(-t1 -c"$conns" -d"${secs}s" --latency)
  [[ -n $script ]] && args+=(-s "$script")
  local c0 c1 out
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c "$LOAD_CPUS" wrk "${args[@]}" "http://127.0.0.1:$port/")
  c1=$(cpu_ticks "$pid")
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  if [[ -n $errs ]]; then echo "wrk reported errors on port $port: $errs" >&2; fi
  local cores
  cores=$(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v s="$secs" 'BEGIN { printf "%.3f", (b - a) / t / s }')
  echo "$rps $p50 $p99 $cores"
}

measure() { # name pid port
  local name=$1 pid=$2 port=$3
  taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null # warm-up
  local prof_pid=
  if [[ -n $PROFILE && $name == WP ]]; then
    curl -fsS -o "$PROFILE" "http://127.0.0.1:$DEBUG_PORT/debug/pprof/profile?seconds=$SECONDS_SAT" &
    prof_pid=$!
  fi
  read -r SAT_RPS _ SAT_P99 SAT_CORES <<<"$(run_wrk "$pid" "$port" "$SECONDS_SAT" "$CONNS")"
  if [[ -n $prof_pid ]]; then wait "$prof_pid" || echo "profile failed" >&2; fi
  local conns=$((RATE / 100))
  ((conns < 1)) && conns=1
  export WRK_DELAY_MS=10
  read -r FIX_RPS FIX_P50 FIX_P99 FIX_CORES <<<"$(run_wrk "$pid" "$port" "$SECONDS_RATE" "$conns" "$WORK/rate.lua")"
  local per_core cpu_per_k rss
  per_core=$(awk -v r="$SAT_RPS" -v c="$SAT_CORES" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')
  cpu_per_k=$(awk -v r="$FIX_RPS" -v c="$FIX_CORES" 'BEGIN { printf "%.4f", (r > 0 ? c / (r / 1000) : 0) }')
  rss=$(rss_kb "$pid")
  eval "${name}_SAT_RPS=$SAT_RPS ${name}_SAT_CORES=$SAT_CORES ${name}_PER_CORE=$per_core ${name}_SAT_P99=$SAT_P99"
  eval "${name}_FIX_RPS=$FIX_RPS ${name}_FIX_P50=$FIX_P50 ${name}_FIX_P99=$FIX_P99 ${name}_CPU_PER_K=$cpu_per_k ${name}_RSS_MB=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
}

echo "measuring nginx reverse proxy (baseline)" >&2
measure NGINX "$NGINX_PID" "$NGINX_PORT"
echo "measuring waypoint" >&2
measure WP "$WAYPOINT_PID" "$WAYPOINT_PORT"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

report() {
  echo "### waypoint vs nginx reverse proxy — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'))"
  echo
  echo "Proxy pinned to CPU $PROXY_CPU (waypoint GOMAXPROCS=1 $WAYPOINT_ENV, nginx 1 worker); wrk and the backend on CPU $LOAD_CPUS."
  echo "Saturation: wrk -c$CONNS for ${SECONDS_SAT}s. Fixed rate: ~$RATE req/s offered for ${SECONDS_RATE}s."
  echo
  echo "| metric | nginx | waypoint | waypoint / nginx |"
  echo "|---|---:|---:|---:|"
  echo "| saturation req/s | $NGINX_SAT_RPS | $WP_SAT_RPS | $(ratio "$WP_SAT_RPS" "$NGINX_SAT_RPS") |"
  echo "| proxy CPU cores used at saturation | $NGINX_SAT_CORES | $WP_SAT_CORES | $(ratio "$WP_SAT_CORES" "$NGINX_SAT_CORES") |"
  echo "| req/s per proxy core | $NGINX_PER_CORE | $WP_PER_CORE | $(ratio "$WP_PER_CORE" "$NGINX_PER_CORE") |"
  echo "| p99 at saturation (ms) | $NGINX_SAT_P99 | $WP_SAT_P99 | $(ratio "$WP_SAT_P99" "$NGINX_SAT_P99") |"
  echo "| fixed-rate achieved req/s | $NGINX_FIX_RPS | $WP_FIX_RPS | $(ratio "$WP_FIX_RPS" "$NGINX_FIX_RPS") |"
  echo "| p50 at fixed rate (ms) | $NGINX_FIX_P50 | $WP_FIX_P50 | $(ratio "$WP_FIX_P50" "$NGINX_FIX_P50") |"
  echo "| p99 at fixed rate (ms) | $NGINX_FIX_P99 | $WP_FIX_P99 | $(ratio "$WP_FIX_P99" "$NGINX_FIX_P99") |"
  echo "| CPU (vCPU) per 1,000 req/s | $NGINX_CPU_PER_K | $WP_CPU_PER_K | $(ratio "$WP_CPU_PER_K" "$NGINX_CPU_PER_K") |"
  echo "| peak RSS (MB) | $NGINX_RSS_MB | $WP_RSS_MB | $(ratio "$WP_RSS_MB" "$NGINX_RSS_MB") |"
}
report | tee ${OUT:+"$OUT"}
