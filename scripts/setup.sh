#!/usr/bin/env bash
# Installs everything das needs to build and test on Debian 12: system packages with
# apt-get (idempotent: only what is missing) and, if cargo is absent, the stable Rust
# toolchain with rustup. Run as root (or as a user with sudo).
set -euo pipefail

packages=(
    build-essential   # cc and ld for crates that build C
    pkg-config
    ca-certificates
    curl
    tshark            # decodes the NSH metadata and generated traffic in tests
    fonts-dejavu-core # the text of das experiment's PNG plots
    iproute2          # ip: network namespaces and veth pairs (scripts/topology.sh, tests)
    procps            # sysctl: IPv6 off in test namespaces
    clang             # compiles the AF_XDP port's XDP program (afxdp/bpf); bindgen's libclang
    libdpdk-dev       # DPDK 22.11 headers and libraries (its drivers too): the dpdk feature
    dpdk              # DPDK's runtime tools (dpdk-devbind.py for real NICs)
    dpdk-dev          # dpdk-testpmd, the reference of scripts/bench-dpdk.sh
    libclang-dev      # bindgen parses the DPDK headers with libclang
    python3           # scripts/testbed/launch.py
    tcl               # tclsh reads scripts/testbed/das.ns in its test
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
}

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup.sh: installing the stable Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
fi
for component in clippy rustfmt; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
echo "setup.sh: ready ($(cargo --version))"
