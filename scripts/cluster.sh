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
#   --ports KIND    afpacket or afxdp: the backend of every stage's ports (default
#                   afpacket; completion notices always use an AF_PACKET socket)
#   --kill-node I:SECONDS
#                   kill node I's worker (SIGKILL) SECONDS after the traffic starts:
#                   the duplicator sees its status frames stop and fails its flows
#                   over to their duplicates (the killed worker writes no report)
#   --das PATH      the das binary (default: build it with cargo --release)
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
    afpacket|afxdp) ;;
    *) echo "cluster.sh: --ports must be afpacket or afxdp" >&2; exit 2 ;;
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
    cargo build --release --locked -q -p das
    das=target/release/das
fi
das="$(realpath "$das")"
mkdir -p "$out"
out="$(realpath "$out")"

cleanup() { bash scripts/topology.sh down --prefix "$prefix" >/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM
bash scripts/topology.sh up --prefix "$prefix" --nodes "$nodes"

pids=()
names=()
start() { # NAME NAMESPACE ARGS...
    local name="$1" ns="$2"
    shift 2
    ip netns exec "$ns" "$das" "$@" --report "$out/$name.json" 2>"$out/$name.log" &
    pids+=($!)
    names+=("$name")
}
dedup_ports=()
dup_ports=()
for ((i = 0; i < nodes; i++)); do
    dedup_ports+=(--node "$ports:ids$i")
    dup_ports+=(--node "$ports:ids$i")
done
start dedup "${prefix}dedup" dedup "${dedup_ports[@]}" --out "$out/unique.pcap"
for ((i = 0; i < nodes; i++)); do
    start "worker$i" "${prefix}ids$i" worker --index "$i" --in "$ports:dup" --out "$ports:dedup" --nf "$nf" --sched "$sched"
done
start duplicator "${prefix}dup" duplicator --in "$ports:in" "${dup_ports[@]}" --scheme "$scheme"
# Traffic starts once every stage has opened its ports ("ready" in its log).
for name in "${names[@]}"; do
    for ((t = 0; t < 300; t++)); do
        grep -q ': ready$' "$out/$name.log" 2>/dev/null && break
        sleep 0.1
    done
    if ! grep -q ': ready$' "$out/$name.log" 2>/dev/null; then
        echo "cluster.sh: $name did not start (see $out/$name.log):" >&2
        cat "$out/$name.log" >&2 || true
        exit 1
    fi
done
status=0
ip netns exec "${prefix}src" "$das" replay --to "$ports:out" "${replay_args[@]}" \
    --report "$out/replay.json" 2>"$out/replay.log" &
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
