//! `scripts/testbed/launch.py`, the launcher of the stages on testbed hosts: its plan
//! for the example topology (`--dry-run`) is the golden text, bad topology files are
//! explained, and the example runs end to end with each host a network namespace
//! (`--via netns`, AF_PACKET ports), every stage reporting and every packet dedup did
//! not deliver explained by a drop with a reason.
//!
//! The end-to-end test needs root: without it the test says why and passes, unless
//! `DAS_REQUIRE_PRIVILEGES=1` (CI) makes it fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::privileged;
#[path = "common/reports.rs"]
mod reports;
use reports::{n, report};

const DAS: &str = env!("CARGO_BIN_EXE_das");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn launch(args: &[&str]) -> Output {
    Command::new("python3")
        .current_dir(repo())
        .arg("scripts/testbed/launch.py")
        .args(args)
        .output()
        .expect("python3 runs (scripts/setup.sh installs it)")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_dry_run_of_the_example_is_the_golden_text() {
    let out = launch(&["scripts/testbed/topology.example.toml", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let golden =
        std::fs::read_to_string(repo().join("scripts/testbed/testdata/example.dry-run")).unwrap();
    assert_eq!(
        text(&out.stdout),
        golden,
        "the plan changed: if on purpose, regenerate scripts/testbed/testdata/example.dry-run"
    );
}

/// `das.ns` asks Emulab for the example topology's hosts (d430 nodes) and links.
#[test]
fn the_ns_file_asks_for_the_example_topology() {
    let Ok(out) = Command::new("tclsh")
        .current_dir(repo())
        .args([
            "scripts/testbed/testdata/ns-check.tcl",
            "scripts/testbed/das.ns",
        ])
        .output()
    else {
        eprintln!("skipped: tclsh is not installed (scripts/setup.sh installs tcl)");
        return;
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (mut nodes, mut links) = (BTreeSet::new(), BTreeMap::new());
    for line in text(&out.stdout).lines() {
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["node", name, hardware, os] => {
                assert_eq!((hardware, os), ("d430", "UBUNTU22-64-STD"), "{line}");
                nodes.insert(name.to_string());
            }
            ["link", name, a, b, bandwidth] => {
                assert_eq!(bandwidth, "10Gb", "{line}");
                links.insert(
                    name.to_string(),
                    BTreeSet::from([a.to_string(), b.to_string()]),
                );
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }
    let example: toml::Value = toml::from_str(
        &std::fs::read_to_string(repo().join("scripts/testbed/topology.example.toml")).unwrap(),
    )
    .unwrap();
    let mut hosts = BTreeSet::new();
    let mut example_links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for host in example["host"].as_array().unwrap() {
        let name = host["name"].as_str().unwrap().to_string();
        for nic in host["nic"].as_array().unwrap() {
            let link = nic["link"].as_str().unwrap().to_string();
            example_links.entry(link).or_default().insert(name.clone());
        }
        hosts.insert(name);
    }
    assert_eq!(nodes, hosts, "the NS file's nodes are the example's hosts");
    assert_eq!(
        links, example_links,
        "the NS file's links are the example's"
    );
}

/// A valid topology of four hosts and one IDS node over AF_PACKET.
const SMALL: &str = r#"
[run]
das = "/usr/bin/das"
ports = "afpacket"

[[host]]
name = "src"
role = "source"
ssh = "src.example"
  [[host.nic]]
  link = "a"
  iface = "eth1"

[[host]]
name = "dup"
role = "duplicator"
ssh = "dup.example"
  [[host.nic]]
  link = "a"
  iface = "eth1"
  [[host.nic]]
  link = "b"
  iface = "eth2"

[[host]]
name = "ids0"
role = "ids"
ssh = "ids0.example"
  [[host.nic]]
  link = "b"
  iface = "eth1"
  [[host.nic]]
  link = "c"
  iface = "eth2"

[[host]]
name = "dedup"
role = "dedup"
ssh = "dedup.example"
  [[host.nic]]
  link = "c"
  iface = "eth1"
"#;

fn check(topology: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, topology).unwrap();
    launch(&[path.to_str().unwrap(), "--check"])
}

#[test]
fn bad_topology_files_are_explained() {
    let ok = check(SMALL);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("ok (4 hosts, 1 IDS nodes)"));

    let cases: &[(&str, &str, &str)] = &[
        ("[[host]", "[[host]]", "not valid TOML"),
        (
            "role = \"ids\"",
            "role = \"ids\"\ncors = [1]",
            "unknown key 'cors'",
        ),
        (
            "role = \"ids\"",
            "role = \"router\"",
            "'role' must be one of source, duplicator, ids, dedup, got 'router'",
        ),
        (
            "role = \"dedup\"",
            "role = \"duplicator\"",
            "needs exactly one duplicator host, found 2",
        ),
        ("role = \"ids\"", "", "missing 'role'"),
        (
            "link = \"c\"\n  iface = \"eth1\"",
            "link = \"a\"\n  iface = \"eth1\"",
            "link 'a' must join two hosts, it is on 3",
        ),
        (
            "link = \"b\"\n  iface = \"eth1\"",
            "link = \"b\"\n  iface = \"eth1\"\n  pci = \"03:00.0\"",
            "'pci' must look like 0000:03:00.0, got '03:00.0'",
        ),
        (
            "ports = \"afpacket\"",
            "ports = \"xdp\"",
            "'ports' must be one of afpacket, afxdp, netmap, dpdk, got 'xdp'",
        ),
        (
            "ssh = \"ids0.example\"",
            "",
            "hosts without an 'ssh' address: ids0",
        ),
        (
            "iface = \"eth2\"\n\n[[host]]\nname = \"dedup\"",
            "\n[[host]]\nname = \"dedup\"",
            "nic on link 'c' needs an 'iface' for afpacket ports",
        ),
        (
            "name = \"dup\"",
            "name = \"src\"",
            "two hosts are named 'src'",
        ),
        (
            "iface = \"eth2\"\n\n[[host]]\nname = \"ids0\"",
            "iface = \"eth2\"\n  [[host.nic]]\n  link = \"x\"\n\n[[host]]\nname = \"ids0\"",
            "link 'x' must join two hosts, it is on 1: dup",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(SMALL.contains(from), "{from:?} is not in the topology");
        let out = check(&SMALL.replacen(from, to, 1));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{expected}: {stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
        assert!(stderr.starts_with("launch.py: "), "{stderr}");
        assert!(!stderr.contains("Traceback"), "{stderr}");
    }
    // A link between hosts whose roles are not neighbours in the chain.
    let extra = |host: &str| {
        format!("ssh = \"{host}.example\"\n  [[host.nic]]\n  link = \"z\"\n  iface = \"eth9\"")
    };
    let out = check(
        &SMALL
            .replace("ssh = \"src.example\"", &extra("src"))
            .replace("ssh = \"dedup.example\"", &extra("dedup")),
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("links go source-duplicator, duplicator-ids or ids-dedup"),
        "{stderr}"
    );
    let out = launch(&["/nonexistent/topology.toml", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read it"),
        "{}",
        text(&out.stderr)
    );
}

/// Every drop with a reason anywhere in `v`, by reason: the ports' and stages'
/// `dropped` tables and the interfaces' own drops.
fn drops(v: &Value, into: &mut BTreeMap<String, u64>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("dropped", Value::Object(reasons)) => {
                        for (reason, count) in reasons {
                            *into.entry(reason.clone()).or_default() += n(count);
                        }
                    }
                    ("rx_dropped" | "tx_dropped", count) => {
                        *into.entry(format!("interface_{key}")).or_default() += n(count);
                    }
                    _ => drops(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| drops(i, into)),
        _ => {}
    }
}

#[test]
fn the_example_runs_in_network_namespaces() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("tb{}-", std::process::id() % 100_000);
    let out = launch(&[
        "scripts/testbed/topology.example.toml",
        "--via",
        "netns",
        "--prefix",
        &prefix,
        "--das",
        DAS,
        "--out",
        dir.path().to_str().unwrap(),
        "--",
        "--flows",
        "200",
        "--seed",
        "7",
        "--pace",
        "20000pps",
    ]);
    let log = text(&out.stderr);
    assert!(out.status.success(), "launch.py failed:\n{log}");
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !text(&left.stdout).contains(&prefix),
        "namespaces left behind"
    );

    for name in ["replay", "duplicator", "worker0", "worker1", "dedup"] {
        assert!(
            dir.path().join(format!("{name}.log")).exists(),
            "{name}.log"
        );
    }
    let replay = report(dir.path(), "replay");
    let dup = report(dir.path(), "duplicator");
    let dedup = report(dir.path(), "dedup");
    let workers = [report(dir.path(), "worker0"), report(dir.path(), "worker1")];

    let sent = n(&replay["sent"]["packets"]);
    let unique = n(&dedup["dedup"]["counters"]["forwarded"]);
    assert!(sent > 1000, "replayed {sent} packets");
    // Jobs lost before the duplicator are missing for sure; after it, a job is missing
    // only when both its copies were dropped. Drops that are not losses: the later
    // copies dedup drops, and duplicates purged because their primary was delivered.
    let mut before = BTreeMap::new();
    drops(&replay["output"], &mut before);
    drops(&dup["input"], &mut before);
    let mut all = before.clone();
    for r in [&dup["duplicator"], &dup["nodes"], &dedup]
        .into_iter()
        .chain(workers.iter())
    {
        drops(r, &mut all);
    }
    for copy in ["duplicate_copy", "late_copy", "purged"] {
        all.remove(copy);
    }
    let (lost_before, lost_any): (u64, u64) = (before.values().sum(), all.values().sum());
    eprintln!(
        "sent {sent}, unique {unique}, drops before duplication {before:?}, all losses {all:?}"
    );
    assert!(unique <= sent, "dedup delivered more than was sent");
    assert!(
        sent - unique >= lost_before,
        "every job dropped before the duplicator is missing"
    );
    assert!(
        sent - unique <= lost_any,
        "every packet dedup did not deliver was dropped with a reason"
    );
    if lost_any == lost_before {
        assert_eq!(
            unique,
            sent - lost_before,
            "unique = sent - drops with reasons"
        );
    }
}
