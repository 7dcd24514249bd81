#!/usr/bin/env bash
# Transmit and receive rates of das's AF_PACKET and AF_XDP ports next to dpdk-testpmd on
# DPDK's net_af_packet and net_af_xdp, on the same kind of device: one veth pair (pa, pb)
# in a network namespace of its own, measured in turns in one run.
#
#   scripts/bench-ports.sh [ROUNDS] [tx|rx|both]     (default 3 both; root)
#
# tx: sending from pa. das: `das replay --to BACKEND:pa` with generated traffic of small
# frames (67 bytes on average) sent as fast as the port takes them; testpmd: 64-byte
# frames, `--forward-mode txonly` for 8 s, the mean of its Tx-pps readings after the first.
#
# rx: one sender on pa for every receiver, `das replay --to afxdp:pa --pace max` (the
# fastest sender here) pinned to CPU 0, and the receiver on pb pinned to CPU 1. das:
# `das bench port-rx --port BACKEND:pb` for 9 s, the rate over the 8 s after the first;
# testpmd: `--forward-mode rxonly`, both its lcores on CPU 1, for 12 s, the mean of its
# Rx-pps readings after the first.
#
# Prints Mpps per port and the ratio das / testpmd for each backend and round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
mode="${2:-both}"
case "$mode" in tx | rx | both) ;; *) echo "bench-ports.sh: expected tx, rx or both, not $mode" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench-ports.sh: needs root" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "bench-ports.sh: needs dpdk-testpmd (apt-get install dpdk-dev)" >&2; exit 1; }
cargo build --release --locked -q -p das
ns="das-bench-ports"
cleanup() {
    [ -z "${sender:-}" ] || kill "$sender" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip -n "$ns" link add name pa type veth peer name pb
ip -n "$ns" link set pa up
ip -n "$ns" link set pb up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

das_mpps() { # BACKEND
    ip netns exec "$ns" target/release/das replay --to "$1:pa" --flows 300 --size-mix small \
        --pace max --seed 3 2>&1 | sed -n 's/.*(\([0-9,]*\) packets\/s).*/\1/p' | tr -d , |
        awk '{printf "%.3f", $1 / 1e6}'
}

testpmd_mpps() { # VDEV
    timeout 12 ip netns exec "$ns" dpdk-testpmd --no-huge --no-pci -m 512 --vdev "$1,iface=pa" \
        -l 0-1 -- --forward-mode=txonly --stats-period 2 --total-num-mbufs=8192 --nb-cores=1 \
        2>/dev/null | awk '/Tx-pps:/ { if (seen++) { sum += $2; n++ } }
                          END { if (n) printf "%.3f", sum / n / 1e6; else printf "nan" }' || true
}

sender=""
start_sender() { # the same sender for every receiver, on CPU 0, for longer than any of them
    taskset -c 0 ip netns exec "$ns" target/release/das replay --to afxdp:pa --flows 300 \
        --size-mix small --pace max --seed 3 --packets 1000000000 --for 20s >/dev/null 2>&1 &
    sender=$!
    sleep 1
}
stop_sender() {
    kill -INT "$sender" 2>/dev/null || true
    wait "$sender" 2>/dev/null || true
}

das_rx_mpps() { # BACKEND
    start_sender
    taskset -c 1 ip netns exec "$ns" target/release/das bench port-rx --port "$1:pb" --secs 9 \
        2>/dev/null | sed -n 's/.*warm-up: \([0-9.]*\) Mpps.*/\1/p'
    stop_sender
}

testpmd_rx_mpps() { # VDEV
    start_sender
    timeout 12 ip netns exec "$ns" dpdk-testpmd --no-huge --no-pci -m 512 --vdev "$1,iface=pb" \
        --lcores '0@1,1@1' -- --forward-mode=rxonly --stats-period 2 --total-num-mbufs=8192 \
        --nb-cores=1 2>/dev/null | awk '/Rx-pps:/ { if (seen++) { sum += $2; n++ } }
                          END { if (n) printf "%.3f", sum / n / 1e6; else printf "nan" }' || true
    stop_sender
}

ratio() { awk -v d="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.2f", d / t; else print "-" }'; }

printf '%-4s %-6s %-9s %10s %12s %8s\n' dir round backend das_Mpps testpmd_Mpps ratio
for ((r = 1; r <= rounds; r++)); do
    for backend in afpacket afxdp; do
        case "$backend" in
            afpacket) vdev=net_af_packet0 ;;
            afxdp) vdev=net_af_xdp0 ;;
        esac
        if [ "$mode" != rx ]; then
            d=$(das_mpps "$backend")
            t=$(testpmd_mpps "$vdev")
            printf '%-4s %-6s %-9s %10s %12s %8s\n' tx "$r" "$backend" "$d" "$t" "$(ratio "$d" "$t")"
        fi
        if [ "$mode" != tx ]; then
            d=$(das_rx_mpps "$backend")
            t=$(testpmd_rx_mpps "$vdev")
            printf '%-4s %-6s %-9s %10s %12s %8s\n' rx "$r" "$backend" "$d" "$t" "$(ratio "$d" "$t")"
        fi
    done
done
