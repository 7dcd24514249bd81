//! `das experiment --topology netns`: the experiment with every stage a process in a
//! network namespace of its own, over AF_PACKET and over AF_XDP ports. Each run checks
//! every link and stage (the experiment's accounting), the straggler ran in its
//! window, the nodes' alerts were merged into the cluster's, and nothing is left
//! behind: no namespace, no stage process.
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

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    let mut alerts = 0;
    for p in points {
        let get = |k: &str| p[k].as_u64().unwrap();
        assert!(p["accounting_ok"].as_bool().unwrap(), "{p}");
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
        for stage in ["replay", "duplicator", "worker0", "worker1", "dedup"] {
            let report = out.join("netns").join(&label).join(format!("{stage}.json"));
            assert!(report.is_file(), "{} missing", report.display());
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
    assert_nothing_left(prefix, &out);
}

fn assert_nothing_left(prefix: &str, out: &Path) {
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !netns.lines().any(|l| l.starts_with(prefix)),
        "namespaces left behind:\n{netns}"
    );
    let prefix = out.join("netns").display().to_string();
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines().any(|l| l.contains(&prefix)),
        "stage processes left behind:\n{ps}"
    );
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
