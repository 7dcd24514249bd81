#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs every check CI runs: formatting,
# clippy with warnings as errors, and the whole test suite (unit, property and
# end-to-end tests), then clippy and the tests of the DPDK and netmap backends with their
# features.
# Tests that need a tool setup.sh installs must not skip here.
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

# The DPDK port backend (das-dpdk), das dpdk-bench and the stages' dpdk: ports, built
# with the dpdk feature, and the netmap port backend (das-netmap) with das's
# netmap:IFACE ports, built with the netmap feature: one clippy pass over both.
step "cargo clippy --features das/dpdk,das/netmap (warnings are errors)"
cargo clippy -p das-dpdk -p das-netmap -p das --all-targets --locked \
    --features das/dpdk,das/netmap -- -D warnings

# The DPDK tests run DPDK on virtual devices (--no-huge --no-pci) and need root. The
# cluster test runs the stage processes linked by net_memif pairs; the experiment test
# runs a short experiment across namespaces over net_af_packet devices on the veths.
step "cargo test -p das-dpdk --features dpdk"
cargo test -p das-dpdk --locked --features dpdk

step "cargo test -p das --features dpdk (stage ports, the cluster and the experiment over DPDK)"
cargo test -p das --locked --features dpdk --bin das --test cli_errors --test netns_e2e \
    --test experiment_netns -- dpdk

# netmap builds without netmap's headers; its tests check the netmap API definitions and
# run the rings against a fake kernel, since these machines have no netmap kernel module
# (docs/NETMAP.md).
step "cargo test -p das-netmap --features netmap"
cargo test -p das-netmap --locked --features netmap

step "all checks passed"
