//! `das experiment --topology netns`: the experiment with every stage a process in a
//! network namespace of its own, over AF_PACKET and over AF_XDP ports, and with the
//! `dpdk` feature over DPDK `net_af_packet` devices on the same veths (`cargo test -p
//! das --features dpdk --test experiment_netns dpdk`, in CI's DPDK step). Each run
//! checks every output file, every link and stage (the experiment's accounting), the
//! straggler ran in its window, the nodes' alerts were merged into the cluster's, and
//! nothing is left behind: no namespace, no stage process, no DPDK runtime folder.
//! Without the feature, `--ports dpdk` is one clear error.
//!
//! Needs root: without it the test says why and passes, unless
//! `DAS_REQUIRE_PRIVILEGES=1` (CI) makes it fail.

use std::path::Path;
use std::process::Command;

mod common;
use common::privileged;

const DAS: &str = env!("CARGO_BIN_EXE_das");

const SHORT: &str = r#"
name = "netns-short"
[topology]
nodes = 2
kind = "netns"
[traffic]
flows = 300
attacks = 0.2
[rules]
set = "own"
[load]
points = [0.3, 1.0]
[run]
schemes = ["single", "das"]
duration = "600ms"
calibration = "400ms"
[straggler]
node = 0
start = 0.25
length = 0.5
intensity = 0.5
"#;

#[test]
fn an_experiment_across_namespaces_over_af_packet() {
    experiment_across_namespaces("afpacket");
}

#[test]
fn an_experiment_across_namespaces_over_af_xdp() {
    experiment_across_namespaces("afxdp");
}

/// Over DPDK: each stage its own EAL from a folder the experiment wrote, each port a
/// `net_af_packet` device on the stage's veth end.
#[cfg(feature = "dpdk")]
#[test]
fn an_experiment_across_namespaces_over_dpdk() {
    experiment_across_namespaces("dpdk");
}

/// A das built without DPDK refuses `--ports dpdk` on one line, before it needs root
/// or creates anything.
#[cfg(not(feature = "dpdk"))]
#[test]
fn without_the_dpdk_feature_ports_dpdk_is_one_clear_error() {
    let out = std::env::temp_dir().join(format!("das-netns-dpdk-never-{}", std::process::id()));
    let res = Command::new(DAS)
        .args([
            "experiment",
            "--topology",
            "netns",
            "--ports",
            "dpdk",
            "-q",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("das: error: ")
            && stderr.contains(
                "topology.ports = \"dpdk\": this das was built without DPDK: rebuild with \
                 --features dpdk"
            ),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// One experiment at a time: two would share the machine's two cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn experiment_across_namespaces(ports: &str) {
    if !privileged() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.toml");
    std::fs::write(&file, SHORT).unwrap();
    let out = dir.path().join("out");
    let res = Command::new(DAS)
        .args(["experiment"])
        .arg(&file)
        .args(["--ports", ports, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stdout}\n{stderr}");

    for file in [
        "points.csv",
        "timeline.csv",
        "results.json",
        "goodput.svg",
        "goodput.png",
        "timeline-0.3.svg",
        "timeline-0.3.png",
        "latency-0.3.svg",
        "latency-0.3.png",
        "timeline-1.svg",
        "timeline-1.png",
        "latency-1.svg",
        "latency-1.png",
        "netns/traffic.pcap",
    ] {
        let path = out.join(file);
        let len = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(len > 0, "{} missing or empty", path.display());
    }
    let csv = std::fs::read_to_string(out.join("points.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows.iter().all(|r| r.ends_with(",true")), "{csv}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    let mut alerts = 0;
    for p in points {
        let get = |k: &str| p[k].as_u64().unwrap();
        assert!(p["accounting_ok"].as_bool().unwrap(), "{p}");
        assert_eq!(
            p["accounting_failures"].as_array().map(Vec::len),
            Some(0),
            "{p}"
        );
        assert!(get("packets_in") > 0 && get("unique") > 0, "{p}");
        assert!(get("unique") <= get("packets_in"), "{p}");
        let s = p["straggler_intensity"].as_f64().unwrap();
        assert!(s > 0.2, "straggler took {s} of node 0");
        if p["scheme"] == "das" {
            assert!(get("duplicates_sent") > 0, "{p}");
        } else {
            assert_eq!(get("duplicates_sent"), 0, "{p}");
        }
        let a = &p["alerts"];
        // Merged across the nodes: an alert both copies raised counts once.
        assert!(a["unique"].as_u64().unwrap() <= a["raised"].as_u64().unwrap());
        alerts += a["unique"].as_u64().unwrap();
        let label = format!(
            "{}-{}-0",
            p["scheme"].as_str().unwrap(),
            p["load"].as_f64().unwrap()
        );
        let run = out.join("netns").join(&label);
        for stage in ["replay", "duplicator", "worker0", "worker1", "dedup"] {
            let report = run.join(format!("{stage}.json"));
            assert!(report.is_file(), "{} missing", report.display());
            assert!(run.join(format!("{stage}.log")).is_file());
            if ports == "dpdk" {
                dpdk_ports_reported(&report);
            }
        }
        for i in 0..2 {
            assert!(run.join(format!("alerts{i}.jsonl")).is_file());
        }
    }
    assert!(alerts > 0, "the attack flows raised no alert");
    assert!(out.join("goodput.svg").is_file());
    // "topology: stages as processes in network namespaces PREFIX* over ..."
    let prefix = stderr
        .split("network namespaces ")
        .nth(1)
        .and_then(|t| t.split('*').next())
        .unwrap_or_else(|| panic!("no namespace prefix in:\n{stderr}"));
    assert!(stderr.contains(&format!("over {ports} ports")), "{stderr}");
    if ports == "dpdk" {
        dpdk_folders_written(&out);
    }
    assert_nothing_left(prefix, &out);
}

/// The DPDK configuration folder the experiment wrote for each host's stage.
fn dpdk_folders_written(out: &Path) {
    for host in ["src", "dup", "ids0", "ids1", "dedup"] {
        let dir = out.join("netns/dpdk").join(host);
        for file in ["eal.toml", "ports.toml", "flow-rules.toml"] {
            assert!(
                dir.join(file).is_file(),
                "{} missing",
                dir.join(file).display()
            );
        }
        let eal = std::fs::read_to_string(dir.join("eal.toml")).unwrap();
        assert!(eal.contains("net_af_packet0,iface="), "{eal}");
        let check = Command::new(DAS)
            .args(["dpdk-config", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

/// Every port in a stage's report over DPDK is a `net_af_packet` device, reported with
/// the device's counters (no kernel interface).
fn dpdk_ports_reported(report: &Path) {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut ports = Vec::new();
    for value in doc["report"].as_object().unwrap().values() {
        let candidates = match value {
            serde_json::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        ports.extend(candidates.into_iter().filter(|v| v.get("spec").is_some()));
    }
    assert!(!ports.is_empty(), "{}: no port", report.display());
    for p in ports {
        assert!(p["spec"].as_str().unwrap().starts_with("dpdk:"), "{p}");
        assert!(p.get("interface").is_none(), "{p}");
        let device = p["device"]["device"].as_str().unwrap_or_default();
        assert!(
            device.starts_with("net_af_packet"),
            "{}: {p}",
            report.display()
        );
    }
}

fn assert_nothing_left(namespaces: &str, out: &Path) {
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !netns.lines().any(|l| l.starts_with(namespaces)),
        "namespaces left behind:\n{netns}"
    );
    let prefix = out.join("netns").display().to_string();
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines().any(|l| l.contains(&prefix)),
        "stage processes left behind:\n{ps}"
    );
    // The stages' DPDK file prefixes are their namespaces' names.
    let runtime: Vec<String> = std::fs::read_dir("/var/run/dpdk")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(namespaces))
                .collect()
        })
        .unwrap_or_default();
    assert!(runtime.is_empty(), "DPDK runtime folders left: {runtime:?}");
}

#[test]
fn without_root_the_netns_topology_is_one_clear_error() {
    if !privileged() {
        return;
    }
    // As the unprivileged user nobody (setpriv, util-linux).
    let res = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", DAS])
        .args(["experiment", "--topology", "netns", "-q", "--out"])
        .arg(std::env::temp_dir().join("das-netns-never-created"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "das: error: --topology netns needs root (network namespaces, veth pairs, raw sockets)"
    );
    assert!(
        !std::env::temp_dir()
            .join("das-netns-never-created")
            .exists()
    );
}
