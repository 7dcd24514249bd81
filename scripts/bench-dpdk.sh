#!/usr/bin/env bash
# The DPDK port backend against dpdk-testpmd, side by side: io-forwarding between two
# net_null ports (64-byte frames), one forwarding core each, alternating ROUNDS times
# (default 2) for SECS seconds each (default 8). Prints each run's median Mpps per port
# and the ratio das / testpmd. Needs dpdk-testpmd (Debian: dpdk) and root.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${SECS:-8}
rounds=${ROUNDS:-2}
cargo build --release --locked -p das --features dpdk
das=target/release/das
cpu=$(($(nproc) - 1))

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

testpmd_mpps() {
    # testpmd's main lcore on CPU 0, its forwarding lcore on CPU 1; it prints Rx-pps
    # of both ports every second. The first nonzero period (warm-up) is left out.
    # timeout ends it (status 124) once enough periods are printed.
    { timeout -s INT $((secs + 10)) dpdk-testpmd --no-huge --no-pci -m 1024 \
        --vdev net_null0 --vdev net_null1 -l 0-1 --file-prefix="das-testpmd-$$" -- \
        --forward-mode=io --stats-period 1 --total-num-mbufs=32768 --nb-cores=1 \
        </dev/null 2>&1 || true; } |
        awk -v max=$((2 * secs)) '/Rx-pps/ && $2 > 0 {
            n++; if (n > 2 && n <= max + 2) printf "%.2f\n", $2 / 1e6 }' |
        median
}

das_mpps() {
    "$das" dpdk-bench --secs "$secs" --cpu "$cpu" 2>/dev/null |
        awk '/^median:/ { print $2 }'
}

printf '%-6s %-14s %-14s %s\n' round "testpmd Mpps" "das Mpps" "das/testpmd"
for round in $(seq 1 "$rounds"); do
    t=$(testpmd_mpps)
    d=$(das_mpps)
    printf '%-6s %-14s %-14s %s\n' "$round" "$t" "$d" "$(awk -v d="$d" -v t="$t" 'BEGIN { printf "%.2f", d / t }')"
done
echo "(Mpps per port; each run forwards both ways on one core, so per core it is twice that)"
