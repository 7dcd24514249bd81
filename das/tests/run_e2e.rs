//! `das run` end to end: for every capture of the shared corpus and for generated
//! traffic, with each scheme and 2 to 4 nodes, the unique output holds exactly the input
//! packets (same bytes, same timestamps, same multiset) and every accounting check of
//! the summary holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataplane::pcap::read_frames;

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/pcaps")
}

fn sorted_frames(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut frames: Vec<(u64, Vec<u8>)> = read_frames(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|f| (f.timestamp_ns, f.data))
        .collect();
    frames.sort_unstable();
    frames
}

/// Runs the pipeline on `input_args`, checks exit status, accounting and the output's
/// multiset against `expected`, and returns the JSON report.
fn run_and_check(
    label: &str,
    input_args: &[&str],
    scheme: &str,
    nodes: usize,
    expected: &[(u64, Vec<u8>)],
) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unique.pcap");
    let json = dir.path().join("stats.json");
    let nodes_s = nodes.to_string();
    let mut args = vec!["run", "-q", "--scheme", scheme, "--nodes", &nodes_s];
    args.extend_from_slice(input_args);
    args.extend_from_slice(&[
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let res = das(&args);
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{label} {scheme} {nodes}: exit {:?}\n{stdout}\n{}",
        res.status,
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(stdout.contains("accounting      OK"), "{label}: {stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let checks = report["accounting"].as_array().unwrap();
    assert!(checks.len() > 20);
    for c in checks {
        assert_eq!(c["ok"], true, "{label} {scheme} {nodes}: {c}");
    }
    let got = sorted_frames(&out);
    assert_eq!(
        got.len(),
        expected.len(),
        "{label} {scheme} {nodes}: unique count"
    );
    assert!(
        got == expected,
        "{label} {scheme} {nodes}: unique output differs from the input"
    );
    report
}

#[test]
fn every_corpus_capture_comes_out_exactly_once_with_every_scheme() {
    let dir = corpus();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("shared corpus not found at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 12);
    for file in &files {
        let expected = sorted_frames(file);
        let label = file.file_name().unwrap().to_string_lossy().to_string();
        for (scheme, nodes) in ["single", "clone", "clone-prio", "das", "hedged"]
            .into_iter()
            .flat_map(|s| (2..=4).map(move |n| (s, n)))
        {
            let report = run_and_check(
                &label,
                &["--pcap", file.to_str().unwrap()],
                scheme,
                nodes,
                &expected,
            );
            let r = &report["report"];
            assert_eq!(r["duplicator"]["counters"]["received"], expected.len());
            let d = &r["duplicator"];
            let field = |f: &str| d[f].as_u64().unwrap();
            let made_or_skipped = field("duplicates") + field("not_hedged") + field("guarded");
            let expected_dups = if scheme == "single" {
                0
            } else {
                expected.len() as u64
            };
            assert_eq!(made_or_skipped, expected_dups, "{label} {scheme} {nodes}");
            if scheme == "clone" || scheme == "clone-prio" {
                assert_eq!(
                    field("duplicates"),
                    expected_dups,
                    "{label} {scheme}: every packet cloned"
                );
            }
        }
    }
}

#[test]
fn generated_traffic_comes_out_exactly_once_on_two_to_four_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gen.pcap");
    let res = das(&[
        "gen",
        "--out",
        input.to_str().unwrap(),
        "--flows",
        "300",
        "--seed",
        "7",
        "--attacks",
        "0.1",
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let expected = sorted_frames(&input);
    assert!(expected.len() > 5_000, "{} packets", expected.len());
    for nodes in 2..=4 {
        for scheme in ["single", "clone", "clone-prio", "das", "hedged"] {
            // Generated in memory by `das run` itself, and replayed from the file.
            run_and_check(
                "generated",
                &["--flows", "300", "--seed", "7", "--attacks", "0.1"],
                scheme,
                nodes,
                &expected,
            );
            run_and_check(
                "gen.pcap",
                &["--pcap", input.to_str().unwrap()],
                scheme,
                nodes,
                &expected,
            );
            // Three duplicator cores: the source spreads flows by hash, each core stamps
            // its own job ids, dedup keeps them apart.
            let report = run_and_check(
                "gen.pcap, 3 duplicator cores",
                &["--pcap", input.to_str().unwrap(), "--duplicators", "3"],
                scheme,
                nodes,
                &expected,
            );
            let per_core: Vec<u64> = report["report"]["duplicators"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["counters"]["received"].as_u64().unwrap())
                .collect();
            assert_eq!(per_core.len(), 3);
            assert!(per_core.iter().all(|&n| n > 0), "{per_core:?}");
            assert_eq!(per_core.iter().sum::<u64>(), expected.len() as u64);
        }
    }
}

#[test]
fn looped_replay_delivers_every_loop_once() {
    let file = corpus().join("http_espn.pcapng");
    let once = sorted_frames(&file);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unique.pcap");
    let res = das(&[
        "run",
        "-q",
        "--pcap",
        file.to_str().unwrap(),
        "--loops",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let got = sorted_frames(&out);
    assert_eq!(got.len(), 3 * once.len());
    let mut bytes: Vec<&Vec<u8>> = got.iter().map(|(_, b)| b).collect();
    bytes.sort();
    let mut expected: Vec<&Vec<u8>> = once.iter().flat_map(|(_, b)| [b, b, b]).collect();
    expected.sort();
    assert_eq!(bytes, expected);
}

#[test]
fn buffers_are_recycled_not_allocated_per_packet() {
    // However much traffic passes, the pool allocates at most what the queues, the
    // thread caches and the batches in hand can hold at once.
    let nodes = 2u64;
    let (queue, dup_queue, batch) = (1024u64, 1024u64, 32u64);
    let threads = 3 + 2 * nodes;
    let bound = queue * (1 + 3 * nodes) + dup_queue * nodes + threads * (128 + 4 * batch);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let res = das(&[
        "run",
        "-q",
        "--flows",
        "3000",
        "--nodes",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let packets = report["report"]["source_forward"]["packets"]
        .as_u64()
        .unwrap();
    let allocated = report["report"]["pool"]["allocated"].as_u64().unwrap();
    assert!(packets > 200_000, "{packets} packets");
    assert!(
        allocated <= bound,
        "{allocated} buffers allocated for {packets} packets (bound {bound})"
    );
}

#[test]
fn distinct_loops_give_each_loop_its_own_addresses() {
    let file = corpus().join("http_espn.pcapng");
    let once: Vec<Vec<u8>> = read_frames(&file)
        .unwrap()
        .into_iter()
        .map(|f| f.data)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unique.pcap");
    let res = das(&[
        "run",
        "-q",
        "--pcap",
        file.to_str().unwrap(),
        "--loops",
        "3",
        "--distinct-loops",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let mut got: Vec<Vec<u8>> = sorted_frames(&out).into_iter().map(|(_, b)| b).collect();
    let mut expected: Vec<Vec<u8>> = (0..3u8)
        .flat_map(|k| {
            once.iter().map(move |f| {
                let mut f = f.clone();
                dataplane::rewrite::distinct_loop(&mut f, k);
                f
            })
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}
