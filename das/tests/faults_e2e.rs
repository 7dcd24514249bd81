//! Faults end to end: a killed node's flows are still delivered through their
//! duplicates; pauses, stragglers, active purge, both scheduling modes and per-node CPU
//! capacity keep every packet accounted for.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataplane::pcap::read_frames;

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

fn sorted_frames(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut frames: Vec<(u64, Vec<u8>)> = read_frames(path)
        .unwrap()
        .into_iter()
        .map(|f| (f.timestamp_ns, f.data))
        .collect();
    frames.sort_unstable();
    frames
}

/// A generated capture of about 30,000 packets.
fn capture(dir: &Path) -> PathBuf {
    let path = dir.join("gen.pcap");
    let out = das(&[
        "gen",
        "--out",
        path.to_str().unwrap(),
        "--flows",
        "300",
        "--seed",
        "11",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// Runs das with `args` plus an output and a JSON report; checks the exit status and
/// every accounting check; returns the report and the unique output.
fn run(dir: &Path, args: &[&str]) -> (serde_json::Value, Vec<(u64, Vec<u8>)>) {
    let out = dir.join("unique.pcap");
    let json = dir.join("stats.json");
    let mut all = vec!["run", "-q"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let res = das(&all);
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(stdout.contains("accounting      OK"), "{args:?}: {stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for c in report["accounting"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{args:?}: {c}");
    }
    (report, sorted_frames(&out))
}

#[test]
fn a_killed_nodes_flows_are_still_delivered_through_their_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path());
    let expected = sorted_frames(&input);
    for sched in ["inline", "os"] {
        // Paced so that node 1 dies mid-run, with room for every duplicate.
        let (report, got) = run(
            dir.path(),
            &[
                "--pcap",
                input.to_str().unwrap(),
                "--pace",
                "100000pps",
                "--kill",
                "1:100ms",
                "--sched",
                sched,
                "--dup-queue-size",
                "1048576",
            ],
        );
        let r = &report["report"];
        assert_eq!(
            r["duplicator"]["dead_nodes"],
            serde_json::json!([1]),
            "{sched}"
        );
        assert!(r["node_reports"][1]["killed_at_secs"].as_f64().unwrap() >= 0.1);
        assert!(r["duplicator"]["failovers"].as_u64().unwrap() > 0);
        assert_eq!(
            got, expected,
            "{sched}: every packet delivered once despite the dead node"
        );
    }
}

#[test]
fn single_copy_loses_a_killed_nodes_flows() {
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path());
    let expected = sorted_frames(&input);
    let (report, got) = run(
        dir.path(),
        &[
            "--pcap",
            input.to_str().unwrap(),
            "--pace",
            "100000pps",
            "--kill",
            "1:100ms",
            "--scheme",
            "single",
        ],
    );
    let dropped = report["report"]["duplicator"]["counters"]["dropped"]["node_down"]
        .as_u64()
        .unwrap();
    assert!(dropped > 0);
    assert!(got.len() < expected.len());
    assert_eq!(
        got.len() as u64 + dropped + lost_in_node(&report),
        expected.len() as u64
    );
}

/// The sum over nodes of one instance's drops for `reason`.
fn node_drops(report: &serde_json::Value, instance: &str, reason: &str) -> u64 {
    report["report"]["node_reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n[instance]["counters"]["dropped"][reason]
                .as_u64()
                .unwrap_or(0)
        })
        .sum()
}

/// Copies a dead node dropped from its queues.
fn lost_in_node(report: &serde_json::Value) -> u64 {
    node_drops(report, "primary", "node_down") + node_drops(report, "secondary", "node_down")
}

/// Options replaying `input` at 100,000 packets/s into nodes with a 1 us function.
fn paced_spin<'a>(input: &'a Path, sched: &'a str) -> Vec<&'a str> {
    vec![
        "--pcap",
        input.to_str().unwrap(),
        "--pace",
        "100000pps",
        "--sched",
        sched,
        "--nf",
        "spin:1us",
    ]
}

#[test]
fn pauses_stragglers_purge_and_both_modes_keep_every_packet() {
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path());
    let expected = sorted_frames(&input);
    for sched in ["inline", "os"] {
        let mut args = paced_spin(&input, sched);
        args.extend([
            "--dup-policy",
            "purge",
            "--pause",
            "0:50ms:50ms",
            "--straggler",
            "1:100ms:100ms:0.5",
        ]);
        let (report, got) = run(dir.path(), &args);
        assert_eq!(got, expected, "{sched}");
        let r = &report["report"];
        assert_eq!(r["stragglers"].as_array().unwrap().len(), 1);
        assert!(r["stragglers"][0]["busy_secs"].as_f64().unwrap() > 0.0);
        let purged = node_drops(&report, "secondary", "purged");
        let notices: u64 = r["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["sent"].as_u64().unwrap())
            .sum();
        assert!(
            notices > 0 && purged <= notices,
            "{sched}: {purged} purged, {notices} notices"
        );
    }
}

#[test]
fn a_paused_node_purges_primaries_its_peer_delivered_first() {
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path());
    let expected = sorted_frames(&input);
    for sched in ["inline", "os"] {
        let args = |purge_primaries: bool| {
            let mut a = paced_spin(&input, sched);
            a.extend(["--pause", "0:50ms:100ms"]);
            if purge_primaries {
                a.push("--purge-primaries");
            }
            a
        };
        // While node 0 is paused its queue fills and node 1 delivers the duplicates of
        // its jobs; back at work with a backlog, node 0 skips those primaries.
        let (report, got) = run(dir.path(), &args(true));
        assert_eq!(got, expected, "{sched}");
        let late = node_drops(&report, "primary", "purged");
        assert!(late > 0, "{sched}: no late primary purged");
        let (report, got) = run(dir.path(), &args(false));
        assert_eq!(got, expected, "{sched}");
        assert_eq!(node_drops(&report, "primary", "purged"), 0, "{sched}");
    }
}

/// Primaries refused by full queue 0s (drop-tail), over every node.
fn refused_primaries(report: &serde_json::Value) -> u64 {
    report["report"]["to_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|links| links.as_array().unwrap())
        .map(|link| {
            link["port"]["queues"][0]["dropped"]["queue_full"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn a_paused_nodes_refused_primaries_have_their_duplicates_rescued() {
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path());
    for sched in ["inline", "os"] {
        let args = |rescue: bool| {
            let mut a = paced_spin(&input, sched);
            a.extend(["--primary-overflow", "drop-tail", "--pause", "0:50ms:100ms"]);
            if !rescue {
                a.push("--no-rescue");
            }
            a
        };
        // Node 0's queue fills while it is paused and refuses the rest of its
        // primaries: each of their duplicates goes to node 1's rescue queue (the
        // duplicator's room check errs only towards rescuing).
        let (report, _) = run(dir.path(), &args(true));
        let dup = &report["report"]["duplicator"];
        let refused = refused_primaries(&report);
        let rescued = dup["rescued"].as_u64().unwrap();
        assert!(refused > 0, "{sched}: node 0 never refused a primary");
        assert!(
            rescued >= refused,
            "{sched}: {rescued} rescued, {refused} refused"
        );
        assert!(rescued <= dup["duplicates"].as_u64().unwrap());
        let queues = |report: &serde_json::Value| {
            report["report"]["to_nodes"][0][1]["port"]["queues"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(queues(&report), 3, "{sched}: a rescue queue per node");
        let (report, _) = run(dir.path(), &args(false));
        assert_eq!(report["report"]["duplicator"]["rescued"], 0, "{sched}");
        assert_eq!(queues(&report), 2, "{sched}");
    }
}

#[test]
fn nodes_sharing_a_core_get_their_own_cgroup_capacity() {
    if !ids_worker::capacity::available() {
        assert!(
            std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() != Ok("1"),
            "per-node CPU capacity needs the cgroup v1 cpu controller and root, which CI requires"
        );
        eprintln!("skipped: no writable cgroup v1 cpu controller (needs root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path());
    let expected = sorted_frames(&input);
    let (report, got) = run(
        dir.path(),
        &[
            "--pcap",
            input.to_str().unwrap(),
            "--cores",
            "0",
            "--node-capacity",
            "0.4",
            "--nf",
            "spin:1us",
        ],
    );
    assert_eq!(got, expected);
    for n in report["report"]["node_reports"].as_array().unwrap() {
        assert_eq!(n["capacity"], 0.4);
        assert_eq!(n["core"], 0);
    }
    let leftover: Vec<_> = std::fs::read_dir(ids_worker::capacity::CPU_CGROUP_ROOT)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("das-"))
        .filter(|e| {
            !Path::new(&format!(
                "/proc/{}",
                pid_of(&e.file_name().to_string_lossy())
            ))
            .exists()
        })
        .collect();
    assert!(leftover.is_empty(), "cgroups left behind: {leftover:?}");
}

/// The process id in a node cgroup's name (`das-PID-nodeN`).
fn pid_of(name: &str) -> String {
    name.split('-').nth(1).unwrap_or_default().to_string()
}
