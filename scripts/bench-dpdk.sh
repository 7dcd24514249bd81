#!/usr/bin/env bash
# das against dpdk-testpmd, side by side, alternating ROUNDS times (default 2):
#
#   scripts/bench-dpdk.sh [port|stages]      (default port; root, dpdk-testpmd)
#
# testpmd io-forwards between two net_null ports (64-byte frames) on one forwarding core
# for SECS seconds (default 8); each run's median Mpps per port is its figure.
#
# port:   the DPDK port backend doing the same io forwarding (`das dpdk-bench`); prints
#         Mpps per port and das / testpmd.
# stages: the duplicator (single-copy and das) and dedup on one core, on in-memory rings
#         with 64-byte frames and IMIX (the criterion benchmarks of benches/stages.rs,
#         3 s each, pinned to the last CPU); prints Mpps per core next to testpmd's
#         per core (its one forwarding core moves both ports' packets: twice the rate
#         per port).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-port}
case "$mode" in port | stages) ;; *) echo "bench-dpdk.sh: expected port or stages, not $mode" >&2; exit 2 ;; esac
secs=${SECS:-8}
rounds=${ROUNDS:-2}
cpu=$(($(nproc) - 1))
das=target/release/das
if [ "$mode" = port ]; then
    cargo build --release --locked -p das --features dpdk
else
    cargo bench --locked -p das-benches --bench stages --no-run
fi

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

# The stage benchmarks of one round, as "NAME MPPS" lines (criterion's median).
stages_mpps() {
    taskset -c "$cpu" cargo bench --locked -q -p das-benches --bench stages -- \
        --warm-up-time 1 --measurement-time 3 \
        '^(duplicator/(single|das)/batch32/(60B|imix.*)|dedup/batch32/(60B|imix.*))$' \
        >/dev/null 2>&1
    python3 - <<'PY'
import json, pathlib, re
want = re.compile(r"^(duplicator/(single|das)/batch32/(60B|imix.*)|dedup/batch32/(60B|imix.*))$")
for bench in sorted(pathlib.Path("target/criterion").glob("**/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    if not want.match(meta["full_id"]):
        continue
    est = json.loads((bench.parent / "estimates.json").read_text())["median"]["point_estimate"]
    name = re.sub(r"imix\(.*\)", "imix", meta["full_id"].replace("/batch32", ""))
    print(name, "%.1f" % (meta["throughput"]["Elements"] / est * 1e3))
PY
}

if [ "$mode" = port ]; then
    printf '%-6s %-14s %-14s %s\n' round "testpmd Mpps" "das Mpps" "das/testpmd"
    for round in $(seq 1 "$rounds"); do
        t=$(testpmd_mpps)
        d=$(das_mpps)
        printf '%-6s %-14s %-14s %s\n' "$round" "$t" "$d" "$(awk -v d="$d" -v t="$t" 'BEGIN { printf "%.2f", d / t }')"
    done
    echo "(Mpps per port; each run forwards both ways on one core, so per core it is twice that)"
else
    printf '%-6s %-26s %-16s %s\n' round stage "Mpps per core" "stage/testpmd"
    for round in $(seq 1 "$rounds"); do
        t=$(testpmd_mpps)
        core=$(awk -v t="$t" 'BEGIN { printf "%.1f", 2 * t }')
        printf '%-6s %-26s %-16s %s\n' "$round" "testpmd io (net_null)" "$core" "1.00"
        stages_mpps | while read -r name mpps; do
            printf '%-6s %-26s %-16s %s\n' "$round" "$name" "$mpps" \
                "$(awk -v s="$mpps" -v c="$core" 'BEGIN { printf "%.2f", s / c }')"
        done
    done
fi
