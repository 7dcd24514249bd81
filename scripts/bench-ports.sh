#!/usr/bin/env bash
# Transmit rate of das's AF_PACKET and AF_XDP ports next to dpdk-testpmd's txonly mode
# on DPDK's net_af_packet and net_af_xdp, on the same kind of device: one veth pair in a
# network namespace of its own, sending from one end, measured in turns in one run.
#
#   scripts/bench-ports.sh [ROUNDS]     (default 3; root)
#
# das: `das replay --to BACKEND:pa` with generated traffic of small frames (67 bytes on
# average) sent as fast as the port takes them; testpmd: 64-byte frames, `--forward-mode
# txonly` for 8 s, the mean of its Tx-pps readings after the first. Prints Mpps per port
# and the ratio das / testpmd for each backend and round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
[ "$(id -u)" -eq 0 ] || { echo "bench-ports.sh: needs root" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "bench-ports.sh: needs dpdk-testpmd (apt-get install dpdk-dev)" >&2; exit 1; }
cargo build --release --locked -q -p das
ns="das-bench-ports"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
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

printf '%-6s %-9s %10s %12s %8s\n' round backend das_Mpps testpmd_Mpps ratio
for ((r = 1; r <= rounds; r++)); do
    for backend in afpacket afxdp; do
        d=$(das_mpps "$backend")
        case "$backend" in
            afpacket) t=$(testpmd_mpps net_af_packet0) ;;
            afxdp) t=$(testpmd_mpps net_af_xdp0) ;;
        esac
        printf '%-6s %-9s %10s %12s %8s\n' "$r" "$backend" "$d" "$t" \
            "$(awk -v d="$d" -v t="$t" 'BEGIN { if (t > 0) printf "%.2f", d / t; else print "-" }')"
    done
done
