//! The IDS engine as the cluster's network function: on generated traffic with
//! attacks, the alerts `das run` reports (deduplicated across copies) are exactly
//! those one engine raises on the same capture offline (`das ids`), for every scheme,
//! as multisets of (sid, source, destination); bad rule options are clear errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

type Key = (u64, String, String);

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

fn alerts(path: &Path) -> BTreeMap<Key, usize> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("alert_json line");
        let key = (
            v["sid"].as_u64().unwrap(),
            v["src_ap"].as_str().unwrap().to_string(),
            v["dst_ap"].as_str().unwrap().to_string(),
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

#[test]
fn cluster_alerts_equal_offline_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("attacks.pcap");
    let pcap_s = pcap.to_str().unwrap();
    let res = das(&[
        "gen",
        "--flows",
        "400",
        "--attacks",
        "0.2",
        "--seed",
        "7",
        "--out",
        pcap_s,
    ]);
    assert!(res.status.success(), "{res:?}");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/das.rules");

    let offline = dir.path().join("offline.json");
    let res = das(&[
        "ids",
        "--rules",
        rules,
        "--pcap",
        pcap_s,
        "--alert-json",
        offline.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{res:?}");
    let want = alerts(&offline);
    let total: usize = want.values().sum();
    assert!(total >= 50, "the attack flows raise alerts: {total}");

    for scheme in ["das", "single", "clone", "hedged"] {
        let got_path = dir.path().join(format!("{scheme}.json"));
        let report = dir.path().join(format!("{scheme}-report.json"));
        // The built-in rules are the project's rules file.
        let res = das(&[
            "run",
            "-q",
            "--pcap",
            pcap_s,
            "--scheme",
            scheme,
            "--alert-json",
            got_path.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&res.stdout);
        assert!(res.status.success(), "{scheme}: {stdout}");
        assert!(stdout.contains("accounting      OK"), "{stdout}");
        assert!(
            stdout.contains("8 loaded from das.rules (built in)"),
            "{stdout}"
        );
        let got = alerts(&got_path);
        assert_eq!(got, want, "{scheme}: cluster alerts differ from offline");

        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let a = &doc["alerts"];
        assert_eq!(a["unique"].as_u64().unwrap() as usize, total, "{a}");
        let parts = ["primary_only", "duplicate_only", "both", "at_end"]
            .iter()
            .map(|k| a[k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(parts as usize, total, "{a}");
        if scheme == "single" {
            assert_eq!(a["both"].as_u64(), Some(0), "{a}");
            assert_eq!(a["duplicate_only"].as_u64(), Some(0), "{a}");
        }
        let by_node: u64 = a["raised_by_node"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|n| n.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
            .sum();
        assert_eq!(by_node, a["raised"].as_u64().unwrap(), "{a}");
    }
}

#[test]
fn rule_options_errors() {
    let res = das(&["run", "-q", "--nf", "forward", "--rules", "x.rules"]);
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("need --nf ids"), "{err}");

    let res = das(&["run", "-q", "--rules", "no/such/file.rules"]);
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("no/such/file.rules"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.rules");
    std::fs::write(&bad, "alert tcp any any -> any 80 (msg:\"x\"; content:\"a\"; sid:1;)\nalert tcp any any -> any 80 (msg:\"y\"; bogus_keyword; sid:2;)\n").unwrap();
    let res = das(&["run", "-q", "--rules", bad.to_str().unwrap()]);
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("bad.rules") && err.contains('2'), "{err}");
}
