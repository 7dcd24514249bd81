//! Content-hash dedup against job-id dedup: on generated traffic (no packet twice) the
//! outputs are identical; on the shared corpus, content mode gives the job-id output
//! (the input) with packets of identical content collapsed to one, which is all a
//! metadata-less dedup can do: byte-identical frames with whole-frame fingerprints,
//! and also the same packet seen at two hops with invariant-field fingerprints.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use dataplane::pcap::read_frames;
use dedup::{Fingerprint, fingerprint_with};

fn run(input: &Path, dir: &Path, args: &[&str]) -> Vec<Vec<u8>> {
    let out = dir.join("out.pcap");
    let res = Command::new(env!("CARGO_BIN_EXE_das"))
        .args([
            "run",
            "-q",
            "--pcap",
            input.to_str().unwrap(),
            "--content-window",
            "60s",
        ])
        .args(args)
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{args:?} on {}: {stdout}",
        input.display()
    );
    assert!(stdout.contains("accounting      OK"), "{stdout}");
    read_frames(&out)
        .unwrap()
        .into_iter()
        .map(|f| f.data)
        .collect()
}

/// Checks that `output` holds each distinct content of `input` exactly once and
/// nothing else; returns how many input packets were collapsed.
fn collapsed(input: &[Vec<u8>], output: &[Vec<u8>], kind: Fingerprint, label: &str) -> usize {
    let inputs: HashSet<&Vec<u8>> = input.iter().collect();
    let mut seen = HashSet::new();
    for f in output {
        assert!(inputs.contains(f), "{label}: a frame not in the input");
        assert!(
            seen.insert(fingerprint_with(kind, f)),
            "{label}: a content came out twice"
        );
    }
    let distinct: HashSet<u64> = input.iter().map(|f| fingerprint_with(kind, f)).collect();
    assert_eq!(seen, distinct, "{label}: a content is missing");
    input.len() - output.len()
}

#[test]
fn content_mode_matches_job_id_mode_up_to_packets_of_identical_content() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("shared corpus not found at {}: {e}", corpus.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let dir = tempfile::tempdir().unwrap();
    let (mut exact, mut invariant) = (0, 0);
    for file in &files {
        let label = file.file_name().unwrap().to_string_lossy().to_string();
        let mut input: Vec<Vec<u8>> = read_frames(file)
            .unwrap()
            .into_iter()
            .map(|f| f.data)
            .collect();
        let mut by_job_id = run(file, dir.path(), &["--dedup", "job-id"]);
        input.sort();
        by_job_id.sort();
        assert_eq!(by_job_id, input, "{label}: job-id mode");
        let frame = run(
            file,
            dir.path(),
            &["--dedup", "content", "--content-fields", "frame"],
        );
        exact += collapsed(&by_job_id, &frame, Fingerprint::Frame, &label);
        let fields = run(file, dir.path(), &["--dedup", "content"]);
        invariant += collapsed(&by_job_id, &fields, Fingerprint::Invariant, &label);
    }
    // The corpus holds 1,646 byte-identical repeats, and 8,068 packets repeated with
    // only their Ethernet header changed (the same packet at two hops).
    assert_eq!(exact, 1_646);
    assert_eq!(invariant, 8_068);
}

#[test]
fn content_mode_equals_job_id_mode_on_generated_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gen.pcap");
    let res = Command::new(env!("CARGO_BIN_EXE_das"))
        .args([
            "gen",
            "--out",
            input.to_str().unwrap(),
            "--flows",
            "200",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    assert!(res.status.success());
    let mut a = run(&input, dir.path(), &["--dedup", "job-id"]);
    let mut b = run(&input, dir.path(), &["--dedup", "content"]);
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
