//! The cluster as one process per host: `scripts/cluster.sh` builds the five-host
//! topology in network namespaces (`scripts/topology.sh`), runs `das dedup`, two
//! `das worker`s, `das duplicator` and `das replay` over AF_PACKET ports, and removes
//! everything. Every packet is accounted for across the processes: on each link, what
//! one side sent = what the other received + what the kernel dropped (ring full, or
//! the interface's own drops); in each stage, received = forwarded + dropped by reason;
//! and dedup's output is the replayed traffic, each packet once.
//!
//! With the `dpdk` feature a third run links the same processes over DPDK `net_memif`
//! pairs (`cargo test -p das --features dpdk --test netns_e2e dpdk`).
//!
//! Needs root: without it the test says why and passes, unless
//! `DAS_REQUIRE_PRIVILEGES=1` (CI) makes it fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

mod common;
use common::privileged;
#[path = "common/reports.rs"]
mod reports;
use reports::{n, report};

use dataplane::pcap::read_frames;
use serde_json::Value;

const DAS: &str = env!("CARGO_BIN_EXE_das");

/// A port's totals: (rx, tx, drops by the port (ring full, ...), drops on receive the
/// port did not count, drops on transmit), the last two by the interface or the DPDK
/// device. An XDP program's redirect to a full AF_XDP ring is also a receive drop of
/// the interface.
fn port_totals(p: &Value) -> (u64, u64, u64, u64, u64) {
    let queues = p["port"]["queues"].as_array().unwrap();
    let sum = |f: &dyn Fn(&Value) -> u64| queues.iter().map(f).sum::<u64>();
    let dropped = sum(&|q| q["dropped"].as_object().unwrap().values().map(n).sum());
    let (below_rx, below_tx) = if p["device"].is_object() {
        let device = &p["device"]["dropped"];
        let rx = ["rx_missed", "rx_no_mbuf", "rx_errors"];
        (
            rx.iter().map(|r| n(&device[r])).sum(),
            n(&device["tx_errors"]),
        )
    } else {
        let if_rx = n(&p["interface"]["rx_dropped"]);
        let afxdp = p["spec"].as_str().unwrap().starts_with("afxdp:");
        (
            if afxdp {
                if_rx.saturating_sub(dropped)
            } else {
                if_rx
            },
            n(&p["interface"]["tx_dropped"]),
        )
    };
    (
        sum(&|q| n(&q["rx_packets"])),
        sum(&|q| n(&q["tx_packets"])),
        dropped,
        below_rx,
        below_tx,
    )
}

/// Checks one link: the sender's port `from` and the receiver's port `to`. Returns the
/// frames lost on it (each counted with a reason).
fn link(name: &str, from: &Value, to: &Value) -> u64 {
    let (_, sent, _, _, sender_drops) = port_totals(from);
    let (received, _, ring_full, receiver_drops, _) = port_totals(to);
    let lost = ring_full + sender_drops + receiver_drops;
    assert_eq!(
        sent,
        received + lost,
        "link {name}: sent = received + dropped"
    );
    lost
}

/// Runs `scripts/cluster.sh` with namespace prefix `prefix` and `options`, the replay
/// taking `replay`, its reports going to `dir`; checks that it succeeded and left no
/// namespace behind, and returns what it printed.
fn run_cluster(dir: &Path, prefix: &str, options: &[&str], replay: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .current_dir(&root)
        .args(["scripts/cluster.sh", "--prefix", prefix])
        .args(options)
        .args(["--das", DAS, "--out"])
        .arg(dir)
        .arg("--")
        .args(replay)
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cluster.sh failed:\n{log}");
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains(prefix),
        "namespaces left behind:\n{}",
        String::from_utf8_lossy(&left.stdout)
    );
    log
}

/// Checks received = forwarded + dropped of a stage's counters.
fn stage(name: &str, c: &Value) -> (u64, u64) {
    let dropped: u64 = c["dropped"].as_object().unwrap().values().map(n).sum();
    assert_eq!(
        n(&c["received"]),
        n(&c["forwarded"]) + dropped,
        "{name}: received = forwarded + dropped"
    );
    (n(&c["received"]), n(&c["forwarded"]))
}

#[test]
fn a_cluster_over_af_packet_accounts_for_every_packet() {
    cluster_accounts_for_every_packet("afpacket");
}

#[test]
fn a_cluster_over_af_xdp_accounts_for_every_packet() {
    cluster_accounts_for_every_packet("afxdp");
}

/// The same cluster over DPDK: every link a `net_memif` pair between two processes
/// (`--no-huge --no-pci`, each process its own file prefix and few mbufs), the nodes'
/// inputs steered in software, completion notices on a queue of the nodes' output
/// ports; and nothing left behind: no process, memif socket or DPDK runtime folder.
#[cfg(feature = "dpdk")]
#[test]
fn a_cluster_over_dpdk_memif_accounts_for_every_packet() {
    cluster_accounts_for_every_packet("dpdk");
}

/// After a cluster over DPDK: cluster.sh found nothing to clean up after the stages,
/// no memif socket or DPDK runtime folder of the run is left, and no process of the
/// run still runs.
fn nothing_left_by_dpdk(out: &Path, prefix: &str, log: &str) {
    assert!(
        !log.contains("DPDK left behind"),
        "the stages left DPDK files behind:\n{log}"
    );
    let sockets: Vec<_> = std::fs::read_dir(out.join("dpdk"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "sock"))
        .collect();
    assert!(sockets.is_empty(), "memif sockets left: {sockets:?}");
    let runtime: Vec<_> = std::fs::read_dir("/var/run/dpdk")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(runtime.is_empty(), "DPDK runtime folders left: {runtime:?}");
    let needle = out.to_string_lossy().into_owned();
    let running: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle) && c.contains("--report"))
        .collect();
    assert!(running.is_empty(), "stage processes still run: {running:?}");
}

fn cluster_accounts_for_every_packet(ports: &str) {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("dn{}{}-", &ports[2..4], std::process::id() % 100_000);
    let log = run_cluster(
        dir.path(),
        &prefix,
        &["--nf", "forward", "--ports", ports],
        &[
            "--flows",
            "200",
            "--seed",
            "7",
            "--pace",
            "20000pps",
            "--idle-exit",
            "1s",
        ],
    );
    if ports == "dpdk" {
        nothing_left_by_dpdk(dir.path(), &prefix, &log);
    }

    let replay = report(dir.path(), "replay");
    let dup = report(dir.path(), "duplicator");
    let dedup = report(dir.path(), "dedup");
    let workers: Vec<Value> = (0..2)
        .map(|i| report(dir.path(), &format!("worker{i}")))
        .collect();

    let sent = n(&replay["sent"]["packets"]);
    assert!(sent > 1000, "replayed {sent} packets");
    let mut notice_loss = 0;
    let mut lost = link("source -> duplicator", &replay["output"], &dup["input"]);
    let (dup_in, jobs) = stage("duplicator", &dup["duplicator"]["counters"]);
    assert_eq!(
        dup_in,
        port_totals(&dup["input"]).0,
        "duplicator: port rx = stage received"
    );
    let duplicates = n(&dup["duplicator"]["duplicates"]);
    let guarded = n(&dup["duplicator"]["guarded"]);
    assert_eq!(
        duplicates + guarded,
        jobs,
        "das duplicates every job the overload guard let through"
    );
    // At this load the nodes take their duplicates: the guard (fed by the nodes'
    // status frames) holds back few, if any.
    assert!(
        guarded * 10 <= jobs,
        "the guard held back {guarded} of {jobs} duplicates"
    );
    let copies_out: u64 = dup["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| port_totals(p).1)
        .sum();
    assert_eq!(
        copies_out,
        jobs + duplicates,
        "duplicator: every copy left on a node port"
    );

    let (mut taken, mut purged, mut lost_to_nodes) = (0, 0, 0);
    for (i, w) in workers.iter().enumerate() {
        let link_loss = link(
            &format!("duplicator -> node {i}"),
            &dup["nodes"][i],
            &w["input"],
        );
        lost_to_nodes += link_loss;
        let queues = w["input"]["port"]["queues"].as_array().unwrap();
        let outq = w["output"]["port"]["queues"].as_array().unwrap();
        if link_loss == 0 {
            // Steering: each copy reached the queue the duplicator addressed it to
            // (primaries on 0, duplicates on 1).
            for (q, kind) in ["primaries", "duplicates"].iter().enumerate() {
                assert_eq!(
                    n(&queues[q]["rx_packets"]),
                    n(&dup["duplicator"]["copies_per_node"][i][q]),
                    "node {i}: {kind} on queue {q}"
                );
            }
        }
        for (q, role) in ["primary", "secondary"].iter().enumerate() {
            let (received, forwarded) =
                stage(&format!("node {i} {role}"), &w["node"][role]["counters"]);
            assert_eq!(
                received,
                n(&queues[q]["rx_packets"]),
                "node {i} {role}: port rx = received"
            );
            assert_eq!(
                forwarded,
                n(&outq[q]["tx_packets"]),
                "node {i} {role}: forwarded = port tx"
            );
            taken += received;
            purged += w["node"][role]["counters"]["dropped"]["purged"]
                .as_u64()
                .unwrap_or(0);
        }
        lost += link(
            &format!("node {i} -> dedup"),
            &w["output"],
            &dedup["nodes"][i],
        );
        // Completion notices, the other way: every frame dedup sent reached the node
        // (on a socket of their own, or over DPDK on the output port's receive queue).
        let notice_port = if ports == "dpdk" {
            assert!(w["notice_port"].is_null());
            let steering = w["input"]["device"]["steering"].as_str().unwrap();
            assert!(
                steering.starts_with("software"),
                "node {i}: memif has no rte_flow, so the rules run in software: {steering}"
            );
            &w["output"]
        } else {
            &w["notice_port"]
        };
        notice_loss += link(
            &format!("dedup -> node {i} (notices)"),
            &dedup["nodes"][i],
            notice_port,
        );
        // Status frames, the other way on the link from the duplicator: heard, and
        // the node never taken for dead.
        let status = &dup["node_status"][i];
        assert!(n(&status["frames"]) > 0, "node {i}: no status frame heard");
        assert!(status["down_after_ms"].is_null(), "node {i} marked down");
        let (sent_notices, got_notices) = (&dedup["notices"][i], &w["notices"]);
        if notice_loss == 0 {
            assert_eq!(
                n(&sent_notices["notices"]),
                n(&got_notices["notices"]),
                "node {i}: notices"
            );
        }
        assert_eq!(
            n(&got_notices["malformed"]),
            0,
            "node {i}: malformed notice frames"
        );
    }
    let (copies_in, unique) = stage("dedup", &dedup["dedup"]["counters"]);
    let dedup_rx: u64 = dedup["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| port_totals(p).0)
        .sum();
    assert_eq!(copies_in, dedup_rx, "dedup: port rx = received");
    assert_eq!(
        n(&dedup["output"]["queues"][0]["tx_packets"]),
        unique,
        "dedup: unique = written"
    );
    assert_eq!(
        taken,
        copies_out - lost_to_nodes,
        "every copy that reached a node was taken by an instance"
    );
    lost += lost_to_nodes;
    let notices: u64 = (0..2).map(|i| n(&dedup["notices"][i]["notices"])).sum();
    assert!(notices > 0, "dedup sent completion notices");
    eprintln!(
        "{ports}: {notices} completion notices, {purged} duplicates purged before inspection"
    );

    // The output is the replayed traffic, each packet once (order across nodes aside).
    let count = |frames: Vec<dataplane::pcap::CapturedFrame>| {
        let mut m: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for f in frames {
            *m.entry(f.data).or_default() += 1;
        }
        m
    };
    let reference = dir.path().join("reference.pcap");
    let generated = Command::new(DAS)
        .args(["gen", "--flows", "200", "--seed", "7", "--out"])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let want = count(read_frames(&reference).unwrap());
    let got = count(read_frames(dir.path().join("unique.pcap")).unwrap());
    if lost == 0 {
        assert_eq!(unique, sent, "nothing was lost: every packet once");
        assert!(
            got == want,
            "dedup's output is the replayed traffic byte for byte"
        );
    } else {
        eprintln!("note: {lost} frames were dropped (counted) on the links of this loaded machine");
        for (frame, k) in &got {
            assert!(
                want.get(frame).is_some_and(|w| k <= w),
                "dedup wrote a frame that was never sent"
            );
        }
    }
}

/// A node dies mid-run: the duplicator sees its status frames stop, marks it down and
/// sends its flows' primaries to their secondary node; with DAS every job already had
/// a duplicate there, so (almost) every packet still leaves dedup.
#[test]
fn a_killed_node_fails_over_to_its_duplicates() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("dnkl{}-", std::process::id() % 100_000);
    let log = run_cluster(
        dir.path(),
        &prefix,
        &["--nf", "forward", "--kill-node", "1:1"],
        &["--flows", "400", "--seed", "3", "--pace", "20000pps"],
    );
    assert!(log.contains("killed node 1's worker"), "{log}");
    assert!(
        !dir.path().join("worker1.json").exists(),
        "a killed worker wrote a report"
    );

    let replay = report(dir.path(), "replay");
    let dup = report(dir.path(), "duplicator");
    let dedup = report(dir.path(), "dedup");
    let sent = n(&replay["sent"]["packets"]);
    assert!(
        sent > 20_000,
        "replayed {sent} packets: the kill came after the traffic"
    );
    assert_eq!(
        dup["duplicator"]["dead_nodes"],
        serde_json::json!([1]),
        "{dup}"
    );
    assert!(n(&dup["duplicator"]["failovers"]) > 0, "{dup}");
    let down = dup["node_status"][1]["down_after_ms"].as_f64().unwrap();
    assert!(
        down > 500.0,
        "node 1 marked down {down} ms after its first status"
    );
    assert!(dup["node_status"][0]["down_after_ms"].is_null(), "{dup}");
    assert!(n(&dup["node_status"][0]["frames"]) > 50, "{dup}");
    let unique = n(&dedup["dedup"]["counters"]["forwarded"]);
    eprintln!(
        "node 1 marked down {down:.0} ms after its first status; {} failovers; {unique} of {sent} packets delivered",
        n(&dup["duplicator"]["failovers"])
    );
    // Lost: only what was in node 1's queues when it died and had no duplicate
    // elsewhere yet.
    assert!(
        unique as f64 >= 0.98 * sent as f64,
        "{unique} of {sent} packets delivered after node 1 died"
    );
    let w0 = report(dir.path(), "worker0");
    assert!(
        n(&w0["node"]["secondary"]["inspected"]) > 0,
        "node 0's secondary inspected node 1's flows"
    );
}
