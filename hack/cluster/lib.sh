# shellcheck shell=bash
# Shared settings and helpers of hack/cluster/up.sh and hack/cluster/down.sh.
# Sourced, never run. Everything the cluster creates is recorded under
# $STATE so that down.sh undoes exactly that and nothing else.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}"

# ---- settings (override with WAYFABRIC_CLUSTER_* in the environment) ----
CLUSTER_DIR="${WAYFABRIC_CLUSTER_DIR:-$ROOT/bin/cluster}"
NODE_NAME="${WAYFABRIC_CLUSTER_NODE_NAME:-wayfabric-node}"
BRIDGE="${WAYFABRIC_CLUSTER_BRIDGE:-wfbr0}"
# The bridge's address is the node IP; pods get addresses from the rest of POD_CIDR.
POD_CIDR="${WAYFABRIC_CLUSTER_POD_CIDR:-10.247.0.0/24}"
NODE_IP="${WAYFABRIC_CLUSTER_NODE_IP:-10.247.0.1}"
SERVICE_CIDR="${WAYFABRIC_CLUSTER_SERVICE_CIDR:-10.248.0.0/16}"
SERVICE_IP="${WAYFABRIC_CLUSTER_SERVICE_IP:-10.248.0.1}"
# ClusterIP of the cluster DNS (CoreDNS, hack/cluster/coredns.yaml); the kubelet
# hands it to every pod as its nameserver.
DNS_IP="${WAYFABRIC_CLUSTER_DNS_IP:-10.248.0.10}"
COREDNS_IMAGE="wayfabric.local/coredns:v1.15.0"
API_PORT=6443
# etcd listens on loopback only (pods must not reach it); pick free ports.
ETCD_CLIENT_PORT="${WAYFABRIC_CLUSTER_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${WAYFABRIC_CLUSTER_ETCD_PEER_PORT:-12380}"
# Optional kwok fake nodes (0 = none). Their pod and node addresses come from
# KWOK_CIDR, which is blackholed on the host so no packet to a fake pod leaves it.
KWOK_NODES="${WAYFABRIC_CLUSTER_KWOK_NODES:-0}"
KWOK_CIDR="${WAYFABRIC_CLUSTER_KWOK_CIDR:-10.249.0.0/16}"
KWOK_VERSION=v0.8.0
CGROUP_ROOT_NAME="${WAYFABRIC_CLUSTER_CGROUP:-wayfabric}"
PAUSE_IMAGE="wayfabric.local/pause:3.10"
CNI_NETWORK="wayfabric"

K8S_VERSION="${K8S_VERSION:-}"
if [[ -z "$K8S_VERSION" ]]; then
  K8S_VERSION="$(cd "$ROOT" && go list -m -f '{{.Version}}' k8s.io/api 2>/dev/null | sed 's/^v0\./v1./')"
fi
K8S_VERSION="v${K8S_VERSION#v}"
K8S_BIN="$ROOT/bin/k8s/${K8S_VERSION#v}"

# Layout of $CLUSTER_DIR: run/ (wiped by down), state/ (what up created;
# wiped by down), logs/ (kept for debugging), images/ and tool/ (build caches).
RUN="$CLUSTER_DIR/run"
STATE="$CLUSTER_DIR/state"
LOGS="$CLUSTER_DIR/logs"
IMAGES="$CLUSTER_DIR/images"
TOOLS="$CLUSTER_DIR/tool"
PKI="$RUN/pki"
KUBECONFIG_OUT="$CLUSTER_DIR/kubeconfig"
CONTAINERD_SOCK="$RUN/containerd/containerd.sock"
export KUBECACHEDIR="$RUN/kubecache"

# Host paths that containerd, the CNI plugins and the kubelet write no matter
# how they are configured. down.sh removes only what we put there, and each
# folder only if it did not exist before up.sh.
FIXED_PATHS=(/run/containerd /run/containerd/s /run/containerd/fifo /var/lib/cni /var/lib/cni/results
  /var/lib/kubelet /var/log/containers /var/log/pods /var/run/netns /etc/cni /opt/containerd
  /run/mount /var/run/wayfabric) # /run/mount: libmount's, as the kubelet mounts volumes with mount(8);
# /var/run/wayfabric: the ztunnels' node sockets (a ZtunnelConfig's hostPath)

# Sysctls that the kubelet, kube-proxy or we change; down.sh restores them.
SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.netfilter.nf_conntrack_tcp_be_liberal
  net.netfilter.nf_conntrack_udp_timeout net.netfilter.nf_conntrack_udp_timeout_stream)

IPT_TABLES=(filter nat mangle raw security)

say() { echo "cluster: [${SECONDS}s] $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }
require_root() { [[ $(id -u) -eq 0 ]] || die "the local cluster needs root (network namespaces, cgroups, iptables, mounts); run as root"; }

# One up/down at a time per cluster folder (down.sh run by up.sh inherits the lock).
lock_cluster() {
  [[ ${WAYFABRIC_CLUSTER_LOCKED:-} == "$CLUSTER_DIR" ]] && return 0
  mkdir -p "$CLUSTER_DIR"
  exec 9>"$CLUSTER_DIR/.lock"
  flock -w 900 9 || die "another hack/cluster/up.sh or down.sh holds $CLUSTER_DIR/.lock"
  export WAYFABRIC_CLUSTER_LOCKED="$CLUSTER_DIR"
}

kubectl_() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }
ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# record KIND VALUE: remember something up.sh created.
record() { echo "$1 $2" >>"$STATE/created"; }
created() { [[ -f "$STATE/created" ]] && awk -v k="$1" '$1 == k { print $2 }' "$STATE/created"; }

# Process bookkeeping: state/pids/NAME holds "PID STARTTIME" so that a
# recycled PID is never signalled.
proc_starttime() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }
pid_alive() { # NAME
  local f="$STATE/pids/$1" pid st
  [[ -f $f ]] || return 1
  read -r pid st <"$f"
  [[ -n $pid && "$(proc_starttime "$pid")" == "$st" ]] && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}
pid_of() { awk '{print $1}' "$STATE/pids/$1" 2>/dev/null; }

# start NAME CMD...: runs CMD detached (own session, so a Ctrl-C of make does
# not kill the cluster), logging to logs/NAME.log.
start() {
  local name=$1; shift
  say "starting $name"
  : >"$LOGS/$name.log"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  local st=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do st="$(proc_starttime "$pid")"; [[ -n $st ]] && break; sleep 0.05; done
  echo "$pid $st" >"$STATE/pids/$name"
}

# stop NAME [GRACE_SECONDS]: SIGTERM, then SIGKILL after the grace period.
stop() {
  local name=$1 grace=${2:-10} pid
  pid_alive "$name" || { rm -f "$STATE/pids/$name"; return 0; }
  pid="$(pid_of "$name")"
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < grace * 10; i++)); do pid_alive "$name" || break; sleep 0.1; done
  if pid_alive "$name"; then
    say "$name did not stop in ${grace}s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do pid_alive "$name" || break; sleep 0.1; done
  fi
  rm -f "$STATE/pids/$name"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS PROCESS_NAME CMD...: polls CMD; fails
# early, showing the log, when PROCESS_NAME died.
wait_for() {
  local what=$1 timeout=$2 proc=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n $proc ]] && ! pid_alive "$proc"; then
      tail -n 30 "$LOGS/$proc.log" >&2 || true
      die "$proc exited while waiting for $what (log: $LOGS/$proc.log)"
    fi
    ((SECONDS < deadline)) || { [[ -n $proc ]] && tail -n 30 "$LOGS/$proc.log" >&2; die "timed out after ${timeout}s waiting for $what"; }
    sleep 0.2
  done
}

# cgroup v1 hierarchies (one folder per mount) or the v2 root.
cgroup_mounts() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then echo /sys/fs/cgroup; return; fi
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts # v1, or hybrid (v1 + unified)
}

# All PIDs inside our cgroup root, in every hierarchy.
cgroup_pids() {
  local d
  for d in $(created cgroup); do
    [[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# iptables chains as "table chain" lines, for the given family binary.
ipt_chains() { # iptables|ip6tables
  local t
  for t in "${IPT_TABLES[@]}"; do
    "$1-save" -t "$t" 2>/dev/null | awk -v t="$t" '/^:/ { print t, substr($1, 2) }'
  done
}

nft_tables() { nft list tables 2>/dev/null | sort; }
