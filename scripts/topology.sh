#!/usr/bin/env bash
# The paper's five hosts on one machine: a traffic source, the duplicator, N IDS nodes
# and dedup, each in its own network namespace, linked by veth pairs.
#
#   scripts/topology.sh up   [--prefix P] [--nodes N]   build it (replacing any old one)
#   scripts/topology.sh down [--prefix P]               remove it (kills what runs in it)
#   scripts/topology.sh show [--prefix P]               list its namespaces and links
#
# Namespaces (prefix P, default "das-"):  Psrc  Pdup  Pids0 .. Pids<N-1>  Pdedup
# Links, as "namespace:interface <-> namespace:interface":
#   Psrc:out       <-> Pdup:in        traffic into the duplicator
#   Pdup:idsI      <-> PidsI:dup      copies to node I (primaries and duplicates)
#   PidsI:dedup    <-> Pdedup:idsI    inspected packets to dedup
# Inside the cluster every frame carries the 46-byte das header, so cluster links get
# an MTU of 1600. IPv6 is off in every namespace: no stray neighbour discovery frames.
#
# Then run the stages there, e.g.:
#   ip netns exec das-dedup das dedup --node afpacket:ids0 --node afpacket:ids1 &
#   ip netns exec das-ids0  das worker --index 0 --in afpacket:dup --out afpacket:dedup &
#   ip netns exec das-ids1  das worker --index 1 --in afpacket:dup --out afpacket:dedup &
#   ip netns exec das-dup   das duplicator --in afpacket:in --node afpacket:ids0 --node afpacket:ids1 &
#   ip netns exec das-src   das replay --to afpacket:out --pace 50000pps
# (scripts/cluster.sh does all of this and collects the reports.)
# Needs root and iproute2.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

action="${1:-}"
[ -n "$action" ] || usage
shift
prefix="das-"
nodes=2
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
        --nodes) nodes="${2:?--nodes needs a value}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "topology.sh: unknown option $1" >&2; usage ;;
    esac
done
case "$nodes" in
    ''|*[!0-9]*) echo "topology.sh: --nodes must be a number" >&2; exit 2 ;;
esac
if [ "$nodes" -lt 1 ] || [ "$nodes" -gt 16 ]; then
    echo "topology.sh: --nodes must be between 1 and 16" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "topology.sh: needs root (network namespaces and veth pairs)" >&2
    exit 1
fi
command -v ip >/dev/null || { echo "topology.sh: needs ip (iproute2)" >&2; exit 1; }

# Every namespace of this prefix that exists now.
existing() {
    ip netns list | awk '{print $1}' | grep -E "^${prefix}(src|dup|dedup|ids[0-9]+)$" || true
}

down() {
    local ns
    for ns in $(existing); do
        # Stop what runs inside, then remove the namespace (its veths go with it).
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
        sleep 0.2
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns"
    done
}

make_ns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# link NS_A IF_A NS_B IF_B MTU
link() {
    ip link add "$2" netns "$1" mtu "$5" type veth peer name "$4" netns "$3" mtu "$5"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

up() {
    down
    trap 'echo "topology.sh: failed; removing what was made" >&2; down' ERR
    make_ns "${prefix}src"
    make_ns "${prefix}dup"
    make_ns "${prefix}dedup"
    link "${prefix}src" out "${prefix}dup" in 1500
    for ((i = 0; i < nodes; i++)); do
        make_ns "${prefix}ids$i"
        link "${prefix}dup" "ids$i" "${prefix}ids$i" dup 1600
        link "${prefix}ids$i" dedup "${prefix}dedup" "ids$i" 1600
    done
    trap - ERR
    echo "topology.sh: up: ${prefix}src -> ${prefix}dup -> ${nodes} nodes -> ${prefix}dedup"
}

show() {
    local ns
    for ns in $(existing); do
        echo "$ns: $(ip -n "$ns" -br link | awk '$1 != "lo" {print $1, $2}' | tr '\n' ' ')"
    done
}

case "$action" in
    up) up ;;
    down) down; echo "topology.sh: down (prefix ${prefix})" ;;
    show) show ;;
    *) echo "topology.sh: unknown action $action" >&2; usage ;;
esac
