# Shared by the benchmark scripts in test/bench: source it, then call
# bench_setup NAME. It installs nginx and wrk if missing (apt-get), checks
# for two CPUs, makes $WORK, and stops every PID in PIDS (and removes
# $WORK) on exit.

bench_setup() { # name
  local missing=()
  command -v nginx >/dev/null || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  if ((${#missing[@]})); then
    echo "installing ${missing[*]} (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if (($(nproc) < 2)); then
    echo "need at least 2 CPUs (proxy on one, load on the other)" >&2
    exit 1
  fi
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}

# nginx_conf NAME PORT HTTP_EXTRA SERVER_BODY writes $WORK/NAME/nginx.conf:
# one worker, no access log, unlimited keep-alive.
nginx_conf() {
  mkdir -p "$WORK/$1/logs"
  cat >"$WORK/$1/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  $3
  server {
    listen 127.0.0.1:$2 backlog=4096;
    $4
  }
}
CONF
}

wait_http() { # url
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timeout waiting for $1" >&2
  exit 1
}

# web_config BACKEND_PORT prints a waypoint static configuration: Service
# bench/web (10.96.0.10:80, using waypoint wp) with one endpoint,
# 127.0.0.1:BACKEND_PORT.
web_config() {
  cat <<CONF
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
ports: [{name: http, port: $1}]
endpoints: [{addresses: [127.0.0.1]}]
CONF
}
