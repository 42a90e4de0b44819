#!/usr/bin/env bash
# Starts a real single-node Kubernetes on this machine (needs root):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd,
# kubelet and kube-proxy, all built from Go modules or Debian packages, all
# state under bin/cluster/. Idempotent: when the cluster is already up it only
# says so. hack/cluster/down.sh undoes everything this script did.
#
#   hack/cluster/up.sh            then: export KUBECONFIG=bin/cluster/kubeconfig
#
# See docs/development.md ("Local cluster") for the design and for debugging.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root
lock_cluster
t0=$SECONDS

# ---- already up? ----
cluster_up() {
  local p
  for p in etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet kube-proxy "$STATE"/pids/*; do
    pid_alive "$(basename "$p")" || return 1
  done
  kubectl_ get --raw /readyz >/dev/null 2>&1 &&
    kubectl_ -n kube-system rollout status deployment/coredns --timeout=5s >/dev/null 2>&1 # cluster DNS too
}
if [[ -d $STATE ]]; then
  if cluster_up; then
    say "already up (node $NODE_NAME at $NODE_IP); export KUBECONFIG=$KUBECONFIG_OUT"
    exit 0
  fi
  say "found a partly running or stale cluster; tearing it down first"
  "$ROOT/hack/cluster/down.sh"
fi

# ---- packages ----
need_pkgs=()
command -v containerd >/dev/null || need_pkgs+=(containerd)
command -v runc >/dev/null || need_pkgs+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || need_pkgs+=(containernetworking-plugins)
command -v iptables >/dev/null || need_pkgs+=(iptables)
command -v nft >/dev/null || need_pkgs+=(nftables)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v conntrack >/dev/null || need_pkgs+=(conntrack)
if ((${#need_pkgs[@]})); then
  say "installing Debian packages: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
CNI_BIN=/usr/lib/cni

# ---- builds (cached) ----
mkdir -p "$LOGS" "$IMAGES" "$TOOLS"
K8S_VERSION="$K8S_VERSION" nice -n 19 "$ROOT/hack/build-k8s.sh" \
  etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy

# Rebuild a Go helper only when its sources changed (or, for one built in
# the main module, its go.mod).
stale() { # OUT SRC_DIR...
  local out=$1; shift
  [[ ! -e $out ]] || [[ -n "$(find "$@" -newer "$out" -print -quit)" ]] ||
    { [[ ! -f $1/go.mod ]] && [[ -n "$(find "$ROOT/go.mod" -newer "$out" -print -quit)" ]]; }
}
src="$ROOT/hack/cluster"
if stale "$TOOLS/tool" "$src/tool"; then
  say "building hack/cluster/tool"
  (cd "$ROOT" && CGO_ENABLED=0 nice -n 19 go build -trimpath -o "$TOOLS/tool" ./hack/cluster/tool)
fi
# build_image NAME REF USER [PORT]: static binary from hack/cluster/images/NAME
# packed as REF into images/NAME.tar.
build_image() {
  local name=$1 ref=$2 user=$3 port=${4:-}
  if stale "$IMAGES/$name.tar" "$src/images/$name" "$TOOLS/tool"; then
    say "building image $ref"
    # An image folder with its own go.mod (coredns) is built in that module.
    local dir="$ROOT" pkg="./hack/cluster/images/$name"
    [[ -f $src/images/$name/go.mod ]] && dir="$src/images/$name" pkg=.
    (cd "$dir" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w" -o "$TOOLS/bin/$name" "$pkg")
    "$TOOLS/tool" image -bin "$TOOLS/bin/$name" -ref "$ref" -out "$IMAGES/$name.tar" -user "$user" ${port:+-port "$port"}
  fi
}
build_image pause "$PAUSE_IMAGE" 65535:65535
build_image hello wayfabric.local/hello:v1 65532:65532 8080/tcp
build_image coredns "$COREDNS_IMAGE" 65532:65532

# kwok (only when fake nodes are asked for): the binary and its stage configs
# (node-initialize, node-heartbeat-with-lease, pod-ready, pod-complete,
# pod-delete) from its module folder.
if ((KWOK_NODES > 0)) && [[ ! -x $TOOLS/kwok || ! -d $TOOLS/kwok-stages ]]; then
  say "building kwok $KWOK_VERSION (go install; cold: several minutes)"
  (cd "$TOOLS" && GOBIN="$TOOLS" CGO_ENABLED=0 nice -n 19 go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  kwok_dir="$(cd "$TOOLS" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [[ -d $kwok_dir/kustomize/stage ]] || die "cannot find kwok's stage configs in the module cache"
  rm -rf "$TOOLS/kwok-stages.tmp"
  mkdir -p "$TOOLS/kwok-stages.tmp"
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cp "$kwok_dir/kustomize/stage/$f.yaml" "$TOOLS/kwok-stages.tmp/"
  done
  chmod -R u+w "$TOOLS/kwok-stages.tmp"
  mv "$TOOLS/kwok-stages.tmp" "$TOOLS/kwok-stages"
fi

# ---- preflight: never take over something that is not ours ----
ip link show "$BRIDGE" >/dev/null 2>&1 && die "a link named $BRIDGE already exists and is not ours; set WAYFABRIC_CLUSTER_BRIDGE"
ip -4 route show | grep -q "^${POD_CIDR} " && die "a route for $POD_CIDR already exists; set WAYFABRIC_CLUSTER_POD_CIDR/NODE_IP"
if ((KWOK_NODES > 0)); then
  ip -4 route show | grep -q "${KWOK_CIDR} " && die "a route for $KWOK_CIDR already exists; set WAYFABRIC_CLUSTER_KWOK_CIDR"
fi
ip -4 -o addr show | grep -q " ${NODE_IP}/" && die "$NODE_IP is already assigned on this machine; set WAYFABRIC_CLUSTER_NODE_IP"
for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT"; do
  ss -Htln "sport = :$port" | grep -q . && die "port $port is in use; set WAYFABRIC_CLUSTER_ETCD_PORT/ETCD_PEER_PORT"
done

# From here on, a failure tears down whatever was started (unless
# WAYFABRIC_CLUSTER_KEEP_ON_FAILURE=1, to debug it).
up_done=0
on_exit() {
  local rc=$?
  ((up_done)) && return 0
  ((rc)) || rc=1
  say "up failed (exit $rc); logs are in $LOGS"
  if [[ ${WAYFABRIC_CLUSTER_KEEP_ON_FAILURE:-0} != 1 ]]; then
    say "undoing what was started (set WAYFABRIC_CLUSTER_KEEP_ON_FAILURE=1 to keep it for debugging)"
    "$ROOT/hack/cluster/down.sh" || true
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---- record the machine as it is, before touching it ----
rm -rf "$RUN"
mkdir -p "$STATE/pids" "$RUN"
: >"$STATE/created"
for k in "${SYSCTLS[@]}"; do
  v="$(sysctl -n "$k" 2>/dev/null | tr -s '\t' ' ')" && [[ -n $v ]] && printf '%s=%s\n' "$k" "$v" >>"$STATE/sysctl.orig"
done
for p in "${FIXED_PATHS[@]}"; do [[ -e $p || -L $p ]] && echo "$p"; done >"$STATE/paths.preexisting"
ipt_chains iptables >"$STATE/chains.v4"
ipt_chains ip6tables >"$STATE/chains.v6"
nft_tables >"$STATE/nft.tables"
ls -1 /run/containerd/s 2>/dev/null >"$STATE/shim-sockets.preexisting" || true
ls -1 /var/lib/cni/results 2>/dev/null >"$STATE/cni-results.preexisting" || true

# ---- cgroup root for every pod and container (cgroupfs driver) ----
for m in $(cgroup_mounts); do
  d="$m/$CGROUP_ROOT_NAME"
  [[ -d $d ]] && die "cgroup $d already exists and is not ours; set WAYFABRIC_CLUSTER_CGROUP"
  mkdir "$d"
  record cgroup "$d"
  if [[ -f $d/cpuset.cpus ]]; then # cgroup v1 cpuset children start empty
    cat "$m/cpuset.cpus" >"$d/cpuset.cpus"
    cat "$m/cpuset.mems" >"$d/cpuset.mems"
  fi
  if [[ -f $d/cgroup.subtree_control ]]; then
    for c in $(cat "$m/cgroup.subtree_control"); do echo "+$c" >"$d/cgroup.subtree_control" 2>/dev/null || true; done
  fi
done

# ---- node network: a bridge whose address is the node IP ----
say "creating bridge $BRIDGE ($NODE_IP, pods in $POD_CIDR)"
ip link add "$BRIDGE" type bridge
record link "$BRIDGE"
ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service addresses stay on this machine: without this route, traffic from the
# host to a ClusterIP that kube-proxy has not programmed yet would follow the
# default route off the machine. (The route goes away with the bridge.)
ip route add "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
sysctl -qw net.ipv4.ip_forward=1 # pod -> ClusterIP -> pod goes through the host

# ---- certificates, keys, kubeconfigs ----
"$TOOLS/tool" pki -dir "$PKI" -node-ip "$NODE_IP" -node-name "$NODE_NAME" -service-ip "$SERVICE_IP" \
  -server "https://$NODE_IP:$API_PORT"
install -m 600 "$PKI/admin.kubeconfig" "$KUBECONFIG_OUT"

# ---- etcd ----
mkdir -p "$RUN/etcd"
start etcd "$K8S_BIN/etcd" --name "$NODE_NAME" --data-dir "$RUN/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
  --unsafe-no-fsync --quota-backend-bytes 4294967296
wait_for "etcd" 60 etcd curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# ---- kube-apiserver (bound on the node address only) ----
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false --cert-dir "$RUN/apiserver-certs"
wait_for "kube-apiserver /readyz" 120 kube-apiserver kubectl_ get --raw /readyz

# ---- containerd (private root, state and socket; our pause image) ----
# A private CNI bin dir (links to Debian's plugins): a ZtunnelConfig installs
# its chained plugin there, never into /usr/lib/cni.
mkdir -p "$RUN/containerd" "$RUN/cni/net.d" "$RUN/cni/bin"
for plugin in "$CNI_BIN"/*; do ln -sf "$plugin" "$RUN/cni/bin/"; done
cat >"$RUN/containerd/config.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$RUN/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # This VM's root lacks CAP_SYS_RESOURCE: without this runc fails with
    # "can't get final child's PID from pipe: EOF".
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$RUN/containerd/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$RUN/cni/bin"
      conf_dir = "$RUN/cni/net.d"
      max_conf_num = 1
EOF
cat >"$RUN/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$RUN/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR"}]
      }
    }
  ]
}
EOF
start containerd containerd --config "$RUN/containerd/config.toml"
wait_for "containerd" 30 containerd ctr_ version
ctr_ images import "$IMAGES/pause.tar" >/dev/null
ctr_ images import "$IMAGES/hello.tar" >/dev/null
ctr_ images import "$IMAGES/coredns.tar" >/dev/null

# ---- kube-controller-manager, kube-scheduler ----
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --bind-address "$NODE_IP" --secure-port 10257 --cert-dir "$RUN/controller-manager-certs" \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" --use-service-account-credentials \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --allocate-node-cidrs=false --leader-elect=false --profiling=false
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig "$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig "$PKI/scheduler.kubeconfig" --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
  --bind-address "$NODE_IP" --secure-port 10259 --cert-dir "$RUN/scheduler-certs" --leader-elect=false --profiling=false

# ---- kubelet ----
mkdir -p "$RUN/kubelet" "$RUN/pod-logs"
cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: $NODE_IP
healthzPort: 10248
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT_NAME
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
podLogsDir: $RUN/pod-logs
resolvConf: ""
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
protectKernelDefaults: false
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%", imagefs.inodesFree: "1%"}
evictionPressureTransitionPeriod: 10s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 87600h
serializeImagePulls: false
maxPods: 110
kubeAPIQPS: 50
kubeAPIBurst: 100
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
fileCheckFrequency: 10s
EOF
start kubelet "$K8S_BIN/kubelet" --config "$RUN/kubelet.yaml" --kubeconfig "$PKI/kubelet-client.kubeconfig" \
  --root-dir "$RUN/kubelet" --cert-dir "$RUN/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"

# ---- kube-proxy (iptables mode) ----
cat >"$RUN/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: $NODE_IP:10256
metricsBindAddress: $NODE_IP:10249
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
nodePortAddresses: ["$NODE_IP/32"]
oomScoreAdj: 0
iptables: {localhostNodePorts: false, masqueradeAll: false, syncPeriod: 30s, minSyncPeriod: 1s}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$K8S_BIN/kube-proxy" --config "$RUN/kube-proxy.yaml"

wait_for "node $NODE_NAME Ready" 120 kubelet kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
wait_for "default service account" 60 kube-controller-manager kubectl_ -n default get serviceaccount default

# ---- cluster DNS (CoreDNS in a pod, Service kube-system/kube-dns at $DNS_IP) ----
say "starting cluster DNS (CoreDNS) at $DNS_IP"
sed -e "s|@DNS_IP@|$DNS_IP|g" -e "s|@IMAGE@|$COREDNS_IMAGE|g" -e "s|@NODE_NAME@|$NODE_NAME|g" \
  "$src/coredns.yaml" | kubectl_ apply -f - >/dev/null
wait_for "CoreDNS ready" 120 kubelet kubectl_ -n kube-system rollout status deployment/coredns --timeout=2s

# ---- optional kwok fake nodes (no containers run on them) ----
if ((KWOK_NODES > 0)); then
  # Fake pods get addresses from KWOK_CIDR; a blackhole route keeps any packet
  # kube-proxy sends them on this machine.
  ip route add blackhole "$KWOK_CIDR"
  record route "blackhole:$KWOK_CIDR"
  kwok_net="${KWOK_CIDR%/*}"
  kwok_node_ip="${kwok_net%.*}.1"
  cfgs=()
  for f in "$TOOLS"/kwok-stages/*.yaml; do cfgs+=(--config "$f"); done
  mkdir -p "$RUN/kwok-home"
  HOME="$RUN/kwok-home" start kwok "$TOOLS/kwok" "${cfgs[@]}" --kubeconfig "$KUBECONFIG_OUT" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr "$KWOK_CIDR" --node-ip "$kwok_node_ip" --node-lease-duration-seconds 40 --v WARN
  for ((i = 0; i < KWOK_NODES; i++)); do
    printf '%s\n' "apiVersion: v1" "kind: Node" "metadata:" "  name: kwok-node-$i" \
      "  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: \"0\"}" \
      "  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}" \
      "spec:" "  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]" "---"
  done | kubectl_ apply -f - >/dev/null
  kwok_ready() { (($(kubectl_ get nodes -l type=kwok --no-headers | grep -c ' Ready') >= KWOK_NODES)); }
  wait_for "$KWOK_NODES kwok nodes Ready" 120 kwok kwok_ready
  say "$KWOK_NODES kwok fake nodes Ready (label type=kwok, taint kwok.x-k8s.io/node=fake:NoSchedule)"
fi
up_done=1
say "up in $((SECONDS - t0))s: node $NODE_NAME ($NODE_IP), API https://$NODE_IP:$API_PORT"
say "  export KUBECONFIG=$KUBECONFIG_OUT KUBECACHEDIR=$KUBECACHEDIR"
say "  images: imagePullPolicy: Never; import more with hack/cluster/import-images.sh FILE.tar..."
say "  CNI (a ZtunnelConfig's spec.cni): binDir $RUN/cni/bin, confDir $RUN/cni/net.d"
