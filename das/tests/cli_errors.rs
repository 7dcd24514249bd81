//! Bad input and bad options give one clear error line and a non-zero exit, never a
//! panic.

use std::process::{Command, Output};

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

/// das run without privileges: as uid and gid 65534 with no groups (through setpriv)
/// when the test runs as root, as it is otherwise. None when root lacks setpriv.
fn das_unprivileged(args: &[&str]) -> Option<Output> {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().any(|l| {
            l.strip_prefix("Uid:")
                .is_some_and(|u| u.split_whitespace().next() == Some("0"))
        })
    });
    if !root {
        return Some(das(args));
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output();
    match out {
        Ok(out) => Some(out),
        Err(e) => {
            eprintln!("skipped: no setpriv to drop root's privileges ({e})");
            None
        }
    }
}

/// `out` failed with exit status 2 and this one line on stderr.
fn assert_one_line(args: &[&str], out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().collect::<Vec<_>>(), [expected], "{args:?}");
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
    assert_error(
        &["run", "--scheme", "single", "--purge-primaries"],
        "purging late primaries needs active purge",
    );
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
        &["bench", "port-rx", "--port", "dpdk:in"],
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

#[test]
fn port_rx_bench_explains_bad_options() {
    assert_error(
        &["bench", "port-rx", "--port", "veth0"],
        "expected afpacket:IFACE",
    );
    assert_error(
        &["bench", "port-rx", "--port", "afpacket:lo", "--secs", "1"],
        "1 is not in 2..=86400",
    );
    assert_error(
        &["bench", "port-rx", "--port", "afpacket:lo", "--batch", "0"],
        "--batch: batch size 0 is outside 1..=256",
    );
    assert_error(
        &[
            "bench",
            "port-rx",
            "--port",
            "afpacket:lo",
            "--wait",
            "soon",
        ],
        "not a duration",
    );
    let args = ["bench", "port-rx", "--port", "afpacket:nosuch0"];
    assert_one_line(
        &args,
        &das(&args),
        "das: error: cannot open afpacket:nosuch0: port rx: no interface named \"nosuch0\" in \
         this network namespace (see `ip link`)",
    );
}

/// A missing interface: one line naming it, on both kernel backends.
#[test]
fn missing_interfaces_are_one_line() {
    for (port, expected) in [
        (
            "afpacket:nosuch0",
            "das: error: cannot open afpacket:nosuch0: port output: no interface named \
             \"nosuch0\" in this network namespace (see `ip link`)",
        ),
        (
            "afxdp:nosuch0",
            "das: error: cannot open afxdp:nosuch0: no such network interface: nosuch0",
        ),
    ] {
        let args = ["replay", "--to", port, "--flows", "2"];
        assert_one_line(&args, &das(&args), expected);
    }
}

/// Kernel ports opened without privileges: one line saying what is needed, the OS
/// error once.
#[test]
fn missing_privileges_are_one_line() {
    for (port, needs) in [
        (
            "afpacket:lo",
            "das: error: cannot open afpacket:lo: port output: tx queue 0: opening an AF_PACKET \
             socket (needs CAP_NET_RAW: run as root): Operation not permitted (os error 1)",
        ),
        (
            "afxdp:lo",
            "(AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF: run as root)",
        ),
    ] {
        let args = ["replay", "--to", port, "--flows", "2"];
        let Some(out) = das_unprivileged(&args) else {
            return;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(&format!("das: error: cannot open {port}: ")));
        assert!(stderr.trim_end().ends_with(needs), "{args:?}: {stderr}");
        assert_eq!(
            stderr.matches("(os error").count(),
            1,
            "the OS error once: {stderr}"
        );
    }
}

/// A copy of the shipped DPDK configuration with one port, `lo`, on the virtual device
/// `vdev`, readable by every user; `no_huge` as given.
#[cfg(feature = "dpdk")]
fn dpdk_config_with(vdev: &str, no_huge: bool) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let shipped = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../dpdk-config"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let eal = std::fs::read_to_string(shipped.join("eal.toml")).unwrap();
    let start = eal.find("\nvdevs = [").unwrap() + 1;
    let end = start + eal[start..].find(']').unwrap() + 1;
    let eal = format!("{}vdevs = [\"{vdev}\"]{}", &eal[..start], &eal[end..])
        .replace("no_huge = true", &format!("no_huge = {no_huge}"));
    let files = [
        ("eal.toml", eal),
        (
            "ports.toml",
            format!(
                "[[port]]\nname = \"lo\"\ndevice = \"{}\"\nrx_queues = 1\ntx_queues = 1\n",
                vdev.split(',').next().unwrap()
            ),
        ),
        ("flow-rules.toml", "port = \"lo\"\n".to_string()),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

/// What DPDK needs from the machine and the process is checked before the EAL starts,
/// so a missing prerequisite is das's one line, not the EAL's log.
#[cfg(feature = "dpdk")]
#[test]
fn dpdk_prerequisites_are_one_line() {
    fn refs(a: &[String]) -> Vec<&str> {
        a.iter().map(String::as_str).collect()
    }
    let args = |dir: &tempfile::TempDir| {
        [
            "replay",
            "--to",
            "dpdk:lo",
            "--flows",
            "2",
            "--dpdk-config",
            dir.path().to_str().unwrap(),
        ]
        .map(String::from)
    };

    let dir = dpdk_config_with("net_af_packet0,iface=nosuch0", true);
    let a = args(&dir);
    assert_one_line(
        &refs(&a),
        &das(&refs(&a)),
        "das: error: starting DPDK: virtual device `net_af_packet0,iface=nosuch0`: no \
         interface named `nosuch0` in this network namespace (see `ip link`)",
    );

    let dir = dpdk_config_with("net_af_packet0,iface=lo", true);
    let a = args(&dir);
    if let Some(out) = das_unprivileged(&refs(&a)) {
        assert_one_line(
            &refs(&a),
            &out,
            "das: error: starting DPDK: virtual device `net_af_packet0,iface=lo` needs \
             CAP_NET_RAW, which this process lacks: run as root",
        );
    }

    let reserved: u64 = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|sizes| {
            sizes
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("nr_hugepages")).ok())
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(1);
    if reserved == 0 {
        let dir = dpdk_config_with("net_null0", false);
        let a = args(&dir);
        assert_one_line(
            &refs(&a),
            &das(&refs(&a)),
            "das: error: starting DPDK: eal.toml sets no_huge = false but this machine has no \
             hugepages reserved: reserve some (echo 512 > /proc/sys/vm/nr_hugepages) and mount \
             hugetlbfs, or set no_huge = true",
        );
    } else {
        eprintln!("skipped the hugepage case: this machine has {reserved} reserved");
    }
}
