#!/usr/bin/env bash
# Runs the cluster as one process per host in network namespaces: builds the topology
# (scripts/topology.sh), starts dedup, the IDS nodes and the duplicator, replays the
# traffic, waits for every stage to finish, and removes the topology, also on failure
# or interrupt. Each stage writes its JSON report (and dedup the unique packets) to the
# output folder.
#
#   scripts/cluster.sh [options] [-- REPLAY-OPTIONS...]
#
#   --out DIR       where reports, logs and dedup's output go (default results/cluster)
#   --prefix P      namespace prefix (default das-)
#   --nodes N       IDS nodes (default 2)
#   --scheme S      single, clone, clone-prio or das (default das)
#   --nf F          the nodes' network function: ids, forward or spin:COST (default ids)
#   --sched M       inline or os (default inline)
#   --ports KIND    afpacket, afxdp or dpdk: the backend of every stage's ports
#                   (default afpacket). Beside afxdp, completion notices use an
#                   AF_PACKET socket. dpdk links the stages with net_memif pairs (unix
#                   sockets in OUT/dpdk, which cross namespaces) instead of the veths,
#                   with a DPDK configuration folder per stage written to OUT/dpdk/NAME
#                   (--no-huge --no-pci, few mbufs, its own file prefix)
#   --kill-node I:SECONDS
#                   kill node I's worker (SIGKILL) SECONDS after the traffic starts:
#                   the duplicator sees its status frames stop and fails its flows
#                   over to their duplicates (the killed worker writes no report)
#   --das PATH      the das binary (default: build it with cargo --release, with the
#                   dpdk feature for --ports dpdk)
#   REPLAY-OPTIONS  passed to `das replay` (default: --pace 50000pps: generated traffic)
#
# Needs root. Exit status: 0 when every stage succeeded, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

out=results/cluster
prefix="das-"
nodes=2
scheme=das
nf=ids
sched=inline
ports=afpacket
das=""
kill_node=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?}"; shift 2 ;;
        --prefix) prefix="${2:?}"; shift 2 ;;
        --nodes) nodes="${2:?}"; shift 2 ;;
        --scheme) scheme="${2:?}"; shift 2 ;;
        --nf) nf="${2:?}"; shift 2 ;;
        --sched) sched="${2:?}"; shift 2 ;;
        --ports) ports="${2:?}"; shift 2 ;;
        --das) das="${2:?}"; shift 2 ;;
        --kill-node) kill_node="${2:?}"; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cluster.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
replay_args=("$@")
case "$ports" in
    afpacket|afxdp|dpdk) ;;
    *) echo "cluster.sh: --ports must be afpacket, afxdp or dpdk" >&2; exit 2 ;;
esac
[ ${#replay_args[@]} -gt 0 ] || replay_args=(--pace 50000pps)
killed=-1
if [ -n "$kill_node" ]; then
    killed="${kill_node%%:*}"
    kill_after="${kill_node#*:}"
    if ! [[ "$killed" =~ ^[0-9]+$ && "$kill_after" =~ ^[0-9]+(\.[0-9]+)?$ && "$killed" -lt "$nodes" ]]; then
        echo "cluster.sh: --kill-node wants NODE:SECONDS with NODE below --nodes (got $kill_node)" >&2
        exit 2
    fi
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "cluster.sh: needs root (network namespaces, AF_PACKET sockets)" >&2
    exit 1
fi
if [ -z "$das" ]; then
    features=()
    [ "$ports" != dpdk ] || features=(--features dpdk)
    cargo build --release --locked -q -p das "${features[@]}"
    das=target/release/das
fi
das="$(realpath "$das")"
mkdir -p "$out"
out="$(realpath "$out")"
dpdk="$out/dpdk"

# The DPDK runtime folders (/var/run/dpdk/FILE-PREFIX) of this cluster's stages that
# exist now.
runtime_dirs() {
    local host
    for host in src dup dedup $(seq -f 'ids%g' 0 $((nodes - 1))); do
        [ ! -e "/var/run/dpdk/${prefix}cluster-$host" ] || echo "/var/run/dpdk/${prefix}cluster-$host"
    done
}
# Over DPDK every stage removes its memif server sockets and its runtime folder when
# it ends: say what was left behind, and remove it.
dpdk_leftovers() {
    [ "$ports" = dpdk ] || return 0
    local left
    mapfile -t left < <(ls -d "$dpdk"/*.sock 2>/dev/null || true; runtime_dirs)
    if [ ${#left[@]} -gt 0 ]; then
        echo "cluster.sh: DPDK left behind (removed now): ${left[*]}" >&2
        rm -rf "${left[@]}"
    fi
}
cleanup() {
    bash scripts/topology.sh down --prefix "$prefix" >/dev/null
    dpdk_leftovers
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bash scripts/topology.sh up --prefix "$prefix" --nodes "$nodes"

# Over DPDK: a configuration folder per stage, OUT/dpdk/HOST. Each link is a net_memif
# pair over the socket OUT/dpdk/LINK.sock; a stage is the server of the links it
# receives on and the client of those it sends on, so stages start downstream first.
# Ports keep the names of the veth ends they stand for.
#   dpdk_config HOST PORT:ROLE:LINK:RX-QUEUES:TX-QUEUES...
dpdk_config() {
    local host="$1" dir="$dpdk/$1" vdevs="" port_tables="" first="" k=0
    local spec port role link rxq txq sock cpus
    shift
    mkdir -p "$dir"
    for spec in "$@"; do
        IFS=: read -r port role link rxq txq <<<"$spec"
        [ -n "$first" ] || first="$port"
        sock="$dpdk/$link.sock"
        if [ ${#sock} -gt 100 ]; then
            echo "cluster.sh: $sock is too long for a unix socket: use a shorter --out" >&2
            exit 2
        fi
        vdevs+="    \"net_memif$k,role=$role,id=0,socket=$sock,socket-abstract=no\","$'\n'
        port_tables+=$'\n'"[[port]]
name = \"$port\"
device = \"net_memif$k\"
rx_queues = $rxq
tx_queues = $txq
rx_descriptors = 512
tx_descriptors = 512
mbufs = 2047
mtu = 1500"$'\n'
        k=$((k + 1))
    done
    # memif ports take an MTU of at most 1500, but carry longer frames (das frames are
    # up to 1560 bytes) in their 2048-byte buffers.
    # lcore 0 runs the stage's main thread, whose CPUs its other threads inherit: let
    # it run on every CPU of this process.
    cpus="$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"
    cat >"$dir/eal.toml" <<EOF
# Written by scripts/cluster.sh for the stage on $host.
program = "das-$host"
lcores = "0@($cpus)"
memory_mb = 128
no_huge = true
no_pci = true
file_prefix = "${prefix}cluster-$host"
vdevs = [
$vdevs]
log_level = "notice"
# No shared configuration and no telemetry socket: the EAL keeps no runtime file, and
# das removes its empty runtime folder. Without the shared configuration net_memif
# cannot serve secondary processes (there are none): its warning about it is silenced.
extra_args = ["--no-shconf", "--no-telemetry", "--log-level=pmd.net.memif:error"]
EOF
    printf '# Written by scripts/cluster.sh for the stage on %s.\n%s' "$host" "$port_tables" \
        >"$dir/ports.toml"
    if [ "$host" != "${host#ids}" ]; then
        # A node's input: primaries on queue 0, duplicates on queue 1.
        cat >"$dir/flow-rules.toml" <<EOF
port = "dup"

[[rule]]
name = "duplicates"
dst = "02:44:41:53:00:01"
dst_mask = "ff:ff:ff:ff:00:ff"
ether_type = 0x894F
queue = 1

[[rule]]
name = "primaries"
dst = "02:44:41:53:00:00"
dst_mask = "ff:ff:ff:ff:00:ff"
ether_type = 0x894F
queue = 0
EOF
    else
        printf 'port = "%s"\n' "$first" >"$dir/flow-rules.toml"
    fi
}
if [ "$ports" = dpdk ]; then
    rm -rf "$dpdk"
    left="$(runtime_dirs)"
    if [ -n "$left" ]; then
        echo "cluster.sh: DPDK runtime folders of an earlier run are in the way:" $left >&2
        exit 1
    fi
    dup_specs=(in:server:src-dup:1:1)
    dedup_specs=()
    for ((i = 0; i < nodes; i++)); do
        dup_specs+=("ids$i:client:dup-ids$i:1:2")
        dedup_specs+=("ids$i:server:ids$i-dedup:2:1")
        dpdk_config "ids$i" "dup:server:dup-ids$i:2:1" "dedup:client:ids$i-dedup:1:2"
    done
    dpdk_config src out:client:src-dup:1:1
    dpdk_config dup "${dup_specs[@]}"
    dpdk_config dedup "${dedup_specs[@]}"
fi

pids=()
names=()
# Starts a stage in its namespace and waits until it has opened its ports ("ready" in
# its log). Downstream stages start first: over DPDK a link's memif server must run
# before its client connects, and traffic starts only once every stage is ready.
start() { # NAME HOST ARGS...
    local name="$1" host="$2" t opts=()
    shift 2
    [ "$ports" != dpdk ] || opts=(--dpdk-config "$dpdk/$host")
    ip netns exec "${prefix}$host" "$das" "$@" "${opts[@]}" --report "$out/$name.json" \
        &>"$out/$name.log" &
    pids+=($!)
    names+=("$name")
    for ((t = 0; t < 300; t++)); do
        grep -q ': ready$' "$out/$name.log" 2>/dev/null && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "cluster.sh: $name did not start (see $out/$name.log):" >&2
    cat "$out/$name.log" >&2 || true
    exit 1
}
dedup_ports=()
dup_ports=()
for ((i = 0; i < nodes; i++)); do
    dedup_ports+=(--node "$ports:ids$i")
    dup_ports+=(--node "$ports:ids$i")
done
start dedup dedup dedup "${dedup_ports[@]}" --out "$out/unique.pcap"
for ((i = 0; i < nodes; i++)); do
    start "worker$i" "ids$i" worker --index "$i" --in "$ports:dup" --out "$ports:dedup" \
        --nf "$nf" --sched "$sched"
done
start duplicator dup duplicator --in "$ports:in" "${dup_ports[@]}" --scheme "$scheme"
status=0
opts=()
[ "$ports" != dpdk ] || opts=(--dpdk-config "$dpdk/src")
ip netns exec "${prefix}src" "$das" replay --to "$ports:out" "${replay_args[@]}" "${opts[@]}" \
    --report "$out/replay.json" &>"$out/replay.log" &
replay_pid=$!
if [ "$killed" -ge 0 ]; then
    sleep "$kill_after"
    kill -KILL "${pids[$((killed + 1))]}"
    echo "cluster.sh: killed node $killed's worker ${kill_after} s into the traffic" >&2
fi
wait "$replay_pid" || status=1
for k in "${!pids[@]}"; do
    if [ "${names[$k]}" = "worker$killed" ]; then
        wait "${pids[$k]}" || true
    elif ! wait "${pids[$k]}"; then
        echo "cluster.sh: ${names[$k]} failed (see $out/${names[$k]}.log)" >&2
        status=1
    fi
done
cat "$out"/replay.log "$out"/duplicator.log "$out"/worker*.log "$out"/dedup.log
echo "cluster.sh: reports in $out"
exit $status
