#!/usr/bin/env bash
# Runs the per-stage criterion benchmarks and prints their throughput as a Markdown
# table (million packets per second on one core, median and 95 % interval), the form
# docs/PERF.md records. Extra arguments go to criterion, e.g. a filter: `dedup`.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
cargo bench -p das-benches --bench stages -- --warm-up-time 1 --measurement-time 3 "$@" >&2
STARTED="$started" python3 - <<'PY'
import json, os, pathlib
rows = []
started = int(os.environ["STARTED"])
for bench in sorted(pathlib.Path("target/criterion").glob("**/new/benchmark.json")):
    # Only what this run measured (criterion keeps older results of other benches).
    if bench.stat().st_mtime < started:
        continue
    meta = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())["median"]
    elements = meta["throughput"]["Elements"]
    mpps = lambda ns: elements / ns * 1e3
    rows.append((meta["full_id"], mpps(est["point_estimate"]),
                 mpps(est["confidence_interval"]["upper_bound"]),
                 mpps(est["confidence_interval"]["lower_bound"])))
print("| benchmark | Mpps (median) | 95 % interval |")
print("|---|---:|---|")
for name, mid, lo, hi in rows:
    print(f"| `{name}` | {mid:.1f} | {lo:.1f} – {hi:.1f} |")
PY
