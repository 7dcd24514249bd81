//! Bad input and bad options give one clear error line and a non-zero exit, never a
//! panic.

use std::process::{Command, Output};

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

fn assert_error(args: &[&str], expected: &str) {
    let out = das(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected {expected:?} in:\n{stderr}"
    );
}

#[test]
fn bad_options_are_explained() {
    assert_error(
        &["run", "--nodes", "1", "--scheme", "das"],
        "needs at least 2 nodes",
    );
    assert_error(&["run", "--nodes", "0"], "--nodes must be at least 1");
    assert_error(
        &["run", "--scheme", "cloning"],
        "expected single, clone, clone-prio, das or hedged",
    );
    assert_error(&["run", "--batch", "0"], "batch size 0 is outside 1..=256");
    assert_error(&["run", "--window", "1000"], "must be a power of two");
    assert_error(&["run", "--attacks", "2"], "attack");
    assert_error(
        &["run", "--pcap", "x.pcap", "--pace", "fast"],
        "cannot read pace",
    );
    assert_error(
        &["run", "--pcap", "x.pcap", "--pace", "0pps"],
        "must be a positive",
    );
    assert_error(&["run", "--size-mix", "64:x"], "mix");
}

#[test]
fn bad_files_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &["run", "--pcap", "does-not-exist.pcap"],
        "does-not-exist.pcap",
    );
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all, just text").unwrap();
    assert_error(
        &["run", "--pcap", junk.to_str().unwrap()],
        "not a pcap or pcapng file",
    );
    let out_dir = dir.path().join("no/such/dir/out.pcap");
    assert_error(
        &["run", "--flows", "10", "--out", out_dir.to_str().unwrap()],
        "cannot write",
    );
    assert_error(
        &["gen", "--out", out_dir.to_str().unwrap()],
        "cannot create",
    );
}

#[test]
fn help_explains_each_command() {
    for cmd in ["run", "gen"] {
        let out = das(&[cmd, "--help"]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--out"), "{text}");
    }
    let top = String::from_utf8_lossy(&das(&["--help"]).stdout).to_string();
    assert!(
        top.contains("UPP/sec") && top.contains("run") && top.contains("gen"),
        "{top}"
    );
}

#[test]
fn stage_processes_explain_bad_ports() {
    assert_error(&["replay", "--to", "veth0"], "expected afpacket:IFACE");
    assert_error(
        &["replay", "--to", "pcap:x"],
        "expected afpacket:IFACE, afxdp:IFACE, netmap:IFACE or dpdk:NAME",
    );
    assert_error(&["replay", "--to", "dpdk:"], "not a DPDK port name");
    assert_error(
        &["replay", "--to", "afpacket:lo", "--packets", "0"],
        "--packets <N>",
    );
    assert_error(
        &[
            "replay",
            "--to",
            "afpacket:lo",
            "--pcap",
            "x.pcap",
            "--loops",
            "2",
            "--packets",
            "9",
        ],
        "cannot be used with",
    );
    assert_error(
        &["replay", "--to", "afpacket:lo", "--for", "soon"],
        "not a duration",
    );
    assert_error(
        &[
            "worker",
            "--index",
            "0",
            "--in",
            "afpacket:",
            "--out",
            "afpacket:x",
        ],
        "not an interface name",
    );
    assert_error(
        &[
            "worker",
            "--index",
            "0",
            "--in",
            "afpacket:nosuch0",
            "--out",
            "afpacket:nosuch1",
            "--nf",
            "forward",
        ],
        "no interface named \"nosuch0\"",
    );
    assert_error(
        &[
            "duplicator",
            "--in",
            "afpacket:nosuch0",
            "--node",
            "afpacket:a",
            "--node",
            "afpacket:b",
            "--scheme",
            "hedged",
        ],
        "--scheme hedged needs the nodes' queue depths",
    );
    assert_error(
        &["dedup", "--node", "afpacket:nosuch0"],
        "no interface named",
    );
}

/// Stage ports on DPDK in a das built without it: one line saying how to rebuild.
#[cfg(not(feature = "dpdk"))]
#[test]
fn dpdk_ports_need_a_das_built_with_dpdk() {
    for args in [
        &["replay", "--to", "dpdk:out", "--flows", "2"][..],
        &["duplicator", "--in", "afpacket:in", "--node", "dpdk:ids0"],
        &[
            "worker",
            "--index",
            "0",
            "--in",
            "dpdk:dup",
            "--out",
            "dpdk:dedup",
        ],
        &["dedup", "--node", "dpdk:ids0"],
    ] {
        let out = das(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            [
                "das: error: this das was built without DPDK: rebuild with --features dpdk \
              (cargo build --release -p das --features dpdk; it needs libdpdk-dev, pkg-config \
              and libclang-dev, see docs/DPDK.md)"
            ],
            "{args:?}"
        );
    }
}

/// With DPDK, a stage checks its configuration folder and the port names before it
/// starts the EAL: no root needed to see these.
#[cfg(feature = "dpdk")]
#[test]
fn dpdk_ports_come_from_a_valid_configuration() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../dpdk-config");
    assert_error(
        &[
            "replay",
            "--to",
            "dpdk:out",
            "--dpdk-config",
            "no-such-folder",
        ],
        "invalid DPDK configuration",
    );
    assert_error(
        &["replay", "--to", "dpdk:nowhere", "--dpdk-config", shipped],
        "dpdk:nowhere: no port `nowhere` in",
    );
    assert_error(
        &["replay", "--to", "dpdk:nowhere", "--dpdk-config", shipped],
        "(its ports: node0, dup-node0, dup-node1)",
    );
}

#[test]
fn netmap_ports_say_what_they_need() {
    let expected = if cfg!(feature = "netmap") {
        // Built with the backend: the port opens, or says why not (on machines without
        // the netmap kernel module, that it is missing).
        "cannot open netmap:nosuch0: netmap: "
    } else {
        "cannot open netmap:nosuch0: built without netmap: rebuild with --features netmap"
    };
    assert_error(
        &["replay", "--to", "netmap:nosuch0", "--flows", "1"],
        expected,
    );
    let out = das(&["replay", "--to", "netmap:nosuch0", "--flows", "1"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().count(),
        1,
        "one line"
    );
}
