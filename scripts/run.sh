#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), builds das in release mode and runs the main
# job: `das experiment`, by default the built-in short experiment (experiments/quick.toml:
# generated traffic through duplicator -> 2 IDS nodes running the IDS engine -> dedup;
# single-copy, cloning and DAS at four loads with a straggler). Arguments are passed to
# `das experiment`, e.g. `scripts/run.sh experiments/fig9b.toml`; try
# `scripts/run.sh --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --bin das
exec target/release/das experiment "$@"
