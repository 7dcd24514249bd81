#!/usr/bin/env bash
# Runs the cargo-fuzz targets under fuzz/.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]
#
# TARGET defaults to all targets, SECONDS (per target) to 60. Installs cargo-fuzz when it
# is missing. cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 unlocks them on
# the stable toolchain. Crashes land in fuzz/artifacts/TARGET/; the growing corpus in
# fuzz/corpus/TARGET/ (both ignored by git). An empty parse_frame corpus is seeded with
# frames from the classic-pcap files of the shared capture corpus, when it is there.
set -euo pipefail

target="${1:-all}"
seconds="${2:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

seed_parse_frame() {
    local dir="corpus/parse_frame"
    local pcaps="$root/../shared/corpus/pcaps"
    if [[ -n "$(ls -A "$dir" 2>/dev/null)" ]] || [[ ! -d "$pcaps" ]] || ! command -v python3 >/dev/null; then
        return 0
    fi
    mkdir -p "$dir"
    python3 - "$pcaps" "$dir" <<'PY'
import hashlib, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
seen = 0
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as f:
        data = f.read()
    if data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        continue  # pcapng: skipped
    pos, n = 24, 0
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        n += 1
        if n % 40 == 1:
            with open(os.path.join(dst, hashlib.sha1(frame).hexdigest()), "wb") as out:
                out.write(frame)
            seen += 1
print(f"seeded {seen} frames", file=sys.stderr)
PY
}

if [[ "$target" == "all" ]]; then
    mapfile -t targets < <(cargo fuzz list)
else
    targets=("$target")
fi

for t in "${targets[@]}"; do
    if [[ "$t" == "parse_frame" ]]; then
        seed_parse_frame
    fi
    echo "fuzzing $t for ${seconds}s" >&2
    cargo fuzz run "$t" -- -max_total_time="$seconds"
done
