#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs every check CI runs: formatting,
# clippy with warnings as errors, and the whole test suite (unit, property and
# end-to-end tests). Tests that need a tool setup.sh installs must not skip here.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export DAS_REQUIRE_TSHARK=1
# CI runs as root: tests that need privileges (SCHED_FIFO, cgroups) must not skip.
if [ "$(id -u)" -eq 0 ]; then export DAS_REQUIRE_PRIVILEGES=1; fi

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "all checks passed"
