#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), builds das in release mode and runs the main
# job: `das run` (generated traffic through duplicator -> 2 IDS nodes -> dedup, scheme
# DAS). Arguments are passed to `das run`; try `scripts/run.sh --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --bin das
exec target/release/das experiment "$@"
