//! `das ids` end to end: generated attack traffic through the project's rules, the
//! summary, alert_fast and alert_json files, and clear errors for bad rules and files.

use std::path::Path;
use std::process::{Command, Output};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/das.rules");

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn generate(dir: &Path) -> String {
    let pcap = dir.join("attacks.pcap").display().to_string();
    let out = das(&[
        "gen",
        "--flows",
        "300",
        "--attacks",
        "0.4",
        "--seed",
        "5",
        "--out",
        &pcap,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    pcap
}

#[test]
fn inspects_generated_attacks() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = generate(dir.path());
    let json = dir.path().join("alerts.json");
    let fast = dir.path().join("alerts.fast");
    let out = das(&[
        "ids",
        "--rules",
        RULES,
        "--pcap",
        &pcap,
        "--alert-json",
        json.to_str().unwrap(),
        "--alert-fast",
        fast.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        "rules          8 loaded",
        "packet time",
        "packets/s",
        "Mbit/s",
        "rule load",
        "peak memory",
        "1:1000004",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    let json = std::fs::read_to_string(json).unwrap();
    let fast = std::fs::read_to_string(fast).unwrap();
    assert_eq!(json.lines().count(), fast.lines().count());
    assert!(json.lines().count() > 50);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["sid"].as_u64().unwrap() >= 1_000_000);
        assert!(["raw", "stream_tcp"].contains(&v["pkt_gen"].as_str().unwrap()));
    }
    assert!(fast.lines().all(|l| l.contains("[**] [1:100000")));
}

#[test]
fn bad_rules_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = generate(dir.path());
    let rules = dir.path().join("bad.rules");
    std::fs::write(
        &rules,
        "# comment\nalert tcp any any -> any any (msg:\"ok\"; sid:1;)\nalert tcp any any -> any any (msg:\"bad\"; content:\"|0g|\"; sid:2;)\n",
    )
    .unwrap();
    let r = rules.to_str().unwrap();
    let out = das(&["ids", "--rules", r, "--pcap", &pcap]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("bad.rules:3"), "{stderr}");
    assert!(stderr.contains("sid 2"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    // Lenient loading reports the rule and runs the rest.
    let out = das(&["ids", "--rules", r, "--pcap", &pcap, "--lenient"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("1 malformed"), "{stdout}");
    assert!(stdout.contains("bad.rules:3"), "{stdout}");
}

#[test]
fn bad_files_are_explained() {
    let out = das(&["ids", "--rules", "/nonexistent.rules", "--pcap", "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent.rules"));
    let out = das(&["ids", "--rules", RULES, "--pcap", "/nonexistent.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent.pcap"));
}
