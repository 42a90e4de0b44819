#!/usr/bin/env bash
# Stops the local cluster started by hack/cluster/up.sh and restores the
# machine exactly as up.sh found it: processes (by recorded PID), container
# processes (by our cgroup), containerd shims (by our socket), mounts under
# bin/cluster, the bridge and its veths, our cgroups, the iptables chains and
# nftables tables that appeared with the cluster, the sysctls it changed and
# the fixed host paths that containerd/kubelet write. Idempotent; keeps
# bin/cluster/logs (for debugging) and the image/tool build caches.
# Exits non-zero, naming it, if anything is left behind.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root
lock_cluster
t0=$SECONDS
if [[ ! -d $STATE ]]; then
  say "no cluster state in $STATE; sweeping for leftovers only"
  mkdir -p "$STATE/pids"
  no_state=1
else
  no_state=0
fi

# Processes whose command line names our private run folder (PATTERN is
# "$RUN/" for all of them, "$RUN/containerd" for containerd, shims and runc):
# ours by construction.
our_stray_pids() { # [PATTERN]
  local pat=${1:-$RUN/} re
  # As a regular expression whose first character is bracketed, so that the
  # grep process (whose own command line holds the expression) never matches.
  re="$(printf '%s' "${pat:1}" | sed 's/[][\.*^$+?(){}|]/\\&/g')"
  re="[${pat:0:1}]$re"
  grep -lsaE -- "$re" /proc/[0-9]*/cmdline | cut -d/ -f3 | grep -vxE "$$|$BASHPID" || true
}
kill_pids() { # SIGNAL PID...
  local sig=$1; shift
  (($#)) && kill "-$sig" "$@" 2>/dev/null
  return 0
}

# Our pod sandboxes, for the CNI cache entries they leave in /var/lib/cni.
sandboxes="$(ls -1 "$RUN/containerd/root/io.containerd.grpc.v1.cri/sandboxes" 2>/dev/null)"

# ---- 1. node agents first, so nothing restarts containers ----
stop kwok 5
stop kubelet 10
stop kube-proxy 5

# ---- 2. every container process: whatever lives in our cgroups ----
veths=""
if grep -qx "link $BRIDGE" "$STATE/created" 2>/dev/null; then # only on our own bridge
  veths="$(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')"
fi
for _ in $(seq 1 50); do
  pids="$(cgroup_pids)"
  [[ -z $pids ]] && break
  # shellcheck disable=SC2086
  kill_pids KILL $pids
  sleep 0.2
done

# ---- 3. containerd, then its shims (they outlive it by design) ----
stop containerd 10
for _ in $(seq 1 20); do
  pids="$(our_stray_pids "$RUN/containerd")"
  [[ -z $pids ]] && break
  # shellcheck disable=SC2086
  kill_pids KILL $pids
  sleep 0.2
done

# ---- 4. control plane (the API server sometimes needs SIGKILL) ----
stop kube-scheduler 5
stop kube-controller-manager 5
stop kube-apiserver 5
stop etcd 10
for f in "$STATE"/pids/*; do [[ -f $f ]] && stop "$(basename "$f")" 5; done
for _ in $(seq 1 20); do
  pids="$(our_stray_pids)"
  [[ -z $pids ]] && break
  say "killing leftover processes: $(echo $pids)"
  # shellcheck disable=SC2086
  kill_pids KILL $pids
  sleep 0.2
done

# ---- 5. mounts under bin/cluster (rootfs overlays, shm, netns, volumes) ----
our_mounts() { awk '{ print $2 }' /proc/mounts | while read -r m; do m="$(printf '%b' "$m")"; [[ $m == "$CLUSTER_DIR"/* ]] && echo "$m"; done | sort -r; }
for _ in 1 2 3; do
  mounts="$(our_mounts)"
  [[ -z $mounts ]] && break
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done <<<"$mounts"
done

# ---- 6. links ----
for v in $veths; do ip link show "$v" >/dev/null 2>&1 && ip link del "$v" 2>/dev/null; done
for r in $(created route); do
  # "TYPE:PREFIX", e.g. blackhole:10.249.0.0/16
  ip route show type "${r%%:*}" "${r#*:}" 2>/dev/null | grep -q . && ip route del "${r%%:*}" "${r#*:}"
done
for l in $(created link); do
  if ip link show "$l" >/dev/null 2>&1; then say "deleting link $l"; ip link del "$l"; fi
done

# ---- 7. cgroups (deepest first) ----
for d in $(created cgroup); do
  [[ -d $d ]] || continue
  for _ in $(seq 1 25); do
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    [[ -d $d ]] || break
    # shellcheck disable=SC2046
    kill_pids KILL $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
    sleep 0.2
  done
done

# ---- 8. iptables: chains that appeared with the cluster (KUBE-*, CNI-*) ----
# Only chains absent when up.sh started are removed, with the rules that jump
# to them; nothing else is flushed.
ipt_cleanup() { # iptables|ip6tables BASELINE_FILE
  local fam=$1 base=$2 t
  [[ -f $base ]] || return 0 # no baseline, no way to tell ours from others
  for t in "${IPT_TABLES[@]}"; do
    local dump ours
    dump="$("$fam-save" -t "$t" 2>/dev/null)" || continue
    ours="$(awk -v t="$t" '/^:(KUBE-|CNI-)/ { print substr($1, 2) }' <<<"$dump" \
      | while read -r c; do grep -qxF "$t $c" "$base" || echo "$c"; done)"
    [[ -z $ours ]] && continue
    {
      echo "*$t"
      # rules in other chains that jump to ours
      awk -v ours="$ours" 'BEGIN { n = split(ours, a, "\n"); for (i = 1; i <= n; i++) o[a[i]] = 1 }
        /^-A / { if ($2 in o) next
                 for (i = 3; i < NF; i++) if (($i == "-j" || $i == "-g") && ($(i + 1) in o)) { sub(/^-A /, "-D "); print; next } }' <<<"$dump"
      while read -r c; do echo "-F $c"; done <<<"$ours"
      while read -r c; do echo "-X $c"; done <<<"$ours"
      echo COMMIT
    } >"$STATE/ipt-cleanup.$fam.$t"
    "$fam-restore" --noflush <"$STATE/ipt-cleanup.$fam.$t" || say "warning: $fam-restore failed for table $t (see $STATE/ipt-cleanup.$fam.$t)"
  done
}
ipt_cleanup iptables "$STATE/chains.v4"
ipt_cleanup ip6tables "$STATE/chains.v6"

# nftables tables that appeared with the cluster and are now empty (iptables-nft
# creates a table on first use and never deletes it).
if [[ -f $STATE/nft.tables ]]; then
  while read -r _ fam name; do
    [[ -z $name ]] && continue
    grep -qxF "table $fam $name" "$STATE/nft.tables" && continue
    body="$(nft list table "$fam" "$name" 2>/dev/null)" || continue
    if [[ $name == kube-proxy ]] || ! grep -vqE '^[[:space:]]*(table .*\{|chain .*\{|type .* hook .* priority .*; policy accept;|\}|)$' <<<"$body"; then
      nft delete table "$fam" "$name" 2>/dev/null || true
    fi
  done < <(nft_tables)
fi

# ---- 9. sysctls ----
if [[ -f $STATE/sysctl.orig ]]; then
  while IFS='=' read -r k v; do
    cur="$(sysctl -n "$k" 2>/dev/null | tr -s '\t' ' ')"
    if [[ -n $cur && $cur != "$v" ]]; then
      say "restoring $k = $v (the cluster had $cur)"
      sysctl -qw "$k=$v" || say "warning: cannot restore $k"
    fi
  done <"$STATE/sysctl.orig"
fi

# ---- 10. fixed host paths ----
preexisting() { [[ -f $STATE/paths.preexisting ]] && grep -qxF "$1" "$STATE/paths.preexisting"; }
if ((!no_state)); then
  # entries that are certainly ours: CNI cache results of our network and of
  # our sandboxes (containerd's own "cni-loopback" network)
  rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null
  for id in $sandboxes; do rm -f /var/lib/cni/results/*-"$id"-* 2>/dev/null; done
  for f in /var/log/containers/*; do
    [[ -L $f && ($(readlink "$f") == "$RUN"/* || ! -e $f) ]] && rm -f "$f"
  done
  # shim sockets that appeared with the cluster and nobody listens on
  if [[ -d /run/containerd/s ]]; then
    listening="$(ss -xlH 2>/dev/null | awk '{ print $5 }')"
    for s in /run/containerd/s/*; do
      [[ -S $s ]] || continue
      grep -qxF "$(basename "$s")" "$STATE/shim-sockets.preexisting" 2>/dev/null && continue
      grep -qxF "$s" <<<"$listening" || rm -f "$s"
    done
  fi
  # folders only the kubelet (or our ztunnels) use: remove whole when we created them
  for p in /var/lib/kubelet /var/log/pods /var/run/wayfabric; do preexisting "$p" || rm -rf "$p"; done
  # shared folders: remove only when we created them and they are empty now
  for ((i = ${#FIXED_PATHS[@]} - 1; i >= 0; i--)); do
    p=${FIXED_PATHS[i]}
    preexisting "$p" && continue
    [[ -d $p ]] && rmdir "$p/"* 2>/dev/null
    [[ -d $p ]] && rmdir "$p" 2>/dev/null
  done
fi

# ---- 11. verify, then forget ----
left=()
pids="$(our_stray_pids)"; [[ -n $pids ]] && left+=("processes: $(echo $pids)")
mounts="$(our_mounts)"; [[ -n $mounts ]] && left+=("mounts: $(echo $mounts)")
ip link show "$BRIDGE" >/dev/null 2>&1 && grep -qx "link $BRIDGE" "$STATE/created" 2>/dev/null && left+=("link $BRIDGE")
for d in $(created cgroup); do [[ -d $d ]] && left+=("cgroup $d"); done
for r in $(created route); do ip route show type "${r%%:*}" "${r#*:}" 2>/dev/null | grep -q . && left+=("route $r"); done
for fam in iptables:chains.v4 ip6tables:chains.v6; do
  [[ -f $STATE/${fam#*:} ]] || continue
  while read -r t c; do
    grep -qxF "$t $c" "$STATE/${fam#*:}" || left+=("${fam%%:*} chain $t/$c")
  done < <(ipt_chains "${fam%%:*}" | grep -E ' (KUBE-|CNI-)')
done
if [[ -f $STATE/sysctl.orig ]]; then
  while IFS='=' read -r k v; do
    cur="$(sysctl -n "$k" 2>/dev/null | tr -s '\t' ' ')"
    [[ -n $cur && $cur != "$v" ]] && left+=("sysctl $k=$cur (was $v)")
  done <"$STATE/sysctl.orig"
fi
for p in "${FIXED_PATHS[@]}"; do
  [[ -f $STATE/paths.preexisting ]] || break
  { [[ -e $p ]] && ! preexisting "$p"; } || continue
  case $p in
    /var/lib/kubelet | /var/log/pods | /var/log/containers | /var/run/wayfabric) left+=("path $p") ;;
    # shared with any other containerd on this machine: not necessarily ours
    *) say "note: $p appeared while the cluster ran and is in use (not ours?): $(ls -A "$p" 2>/dev/null | head -3 | tr '\n' ' ')" ;;
  esac
done

if ((${#left[@]})); then
  say "down: LEFT BEHIND (state kept in $STATE):"
  printf '  %s\n' "${left[@]}" >&2
  exit 1
fi
rm -rf "$RUN" "$STATE" "$KUBECONFIG_OUT"
say "down in $((SECONDS - t0))s; machine restored (logs kept in $LOGS)"
