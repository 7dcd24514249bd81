//! `das experiment` on a short run: every output file is written and valid (CSV
//! parses, JSON parses, SVG is SVG, PNG decodes), counts reconcile across stages, and
//! bad experiment files give clear errors.

use std::path::Path;
use std::process::{Command, Output};

fn das(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_das"))
        .args(args)
        .output()
        .expect("das runs")
}

const SHORT: &str = r#"
name = "short"
[topology]
nodes = 2
[traffic]
flows = 300
attacks = 0.1
[rules]
set = "own"
[load]
points = [0.3, 1.3]
[run]
schemes = ["single", "das"]
duration = "400ms"
calibration = "300ms"
[straggler]
node = 0
start = 0.25
length = 0.5
intensity = 0.5
"#;

fn csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert!(rows.len() > 1, "{}: no rows", path.display());
    for r in &rows {
        assert_eq!(
            r.len(),
            rows[0].len(),
            "{}: ragged row {r:?}",
            path.display()
        );
    }
    rows
}

#[test]
fn a_short_experiment_writes_valid_results() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.toml");
    std::fs::write(&file, SHORT).unwrap();
    let out = dir.path().join("out");
    let res = das(&[
        "experiment",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(stdout.contains("calibration: cluster capacity"), "{stdout}");

    // points.csv: one row per (scheme, load), numbers that parse, accounting held.
    let points = csv(&out.join("points.csv"));
    let col = |name: &str| points[0].iter().position(|c| c == name).unwrap();
    assert_eq!(points.len(), 1 + 4, "{points:?}");
    for r in &points[1..] {
        for name in ["offered_pps", "goodput_upp", "ideal_upp", "latency_p99_us"] {
            let v: f64 = r[col(name)].parse().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{name} = {v}");
        }
        assert_eq!(r[col("accounting_ok")], "true", "{r:?}");
        let unique: u64 = r[col("unique")].parse().unwrap();
        assert!(unique > 0, "{r:?}");
    }
    let timeline = csv(&out.join("timeline.csv"));
    assert_eq!(
        timeline[0],
        ["scheme", "load", "repetition", "time_s", "upp_per_sec"]
    );

    // results.json: counts reconcile across stages for every point.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let pts = doc["points"].as_array().unwrap();
    assert_eq!(pts.len(), 4);
    for p in pts {
        let get = |k: &str| p[k].as_u64().unwrap();
        let drops = |k: &str| p["drops"][k].as_u64().unwrap_or(0);
        assert!(p["accounting_ok"].as_bool().unwrap(), "{p}");
        let inspected: u64 = p["primary_inspected"]
            .as_array()
            .unwrap()
            .iter()
            .chain(p["secondary_inspected"].as_array().unwrap())
            .map(|v| v.as_u64().unwrap())
            .sum();
        // Every copy a node inspected left dedup once or was removed as a later copy.
        assert_eq!(inspected, get("unique") + drops("duplicate_copy"), "{p}");
        // Each node's CPU over the run: a working node used some, at most the machine.
        let cpu = p["node_cpu"].as_array().unwrap();
        assert_eq!(cpu.len(), 2, "{p}");
        for c in cpu {
            let c = c.as_f64().unwrap();
            assert!(c > 0.0 && c <= 2.5, "{p}");
        }
        match p["scheme"].as_str().unwrap() {
            "single" => {
                // A job is delivered, or its only copy was dropped at a full queue.
                assert_eq!(
                    get("packets_in"),
                    get("unique") + drops("queue_full"),
                    "{p}"
                );
                assert_eq!(get("duplicates_sent"), 0);
            }
            _ => {
                assert!(get("duplicates_sent") > 0, "{p}");
                assert_eq!(
                    get("duplicates_inspected"),
                    get("duplicates_useful") + get("duplicates_wasted")
                );
                assert!(get("packets_in") >= get("unique"));
                // Above capacity primaries find full queues: their duplicates are
                // rescues.
                assert!(get("duplicates_rescued") <= get("duplicates_sent"), "{p}");
                if p["load"].as_f64().unwrap() > 1.0 {
                    assert!(get("duplicates_rescued") > 0, "{p}");
                }
            }
        }
        let s = p["straggler_intensity"].as_f64().unwrap();
        assert!(s > 0.2, "straggler took {s} of node 0");
    }
    assert!(doc["calibration"]["cluster_pps"].as_f64().unwrap() > 0.0);

    // Plots: SVG documents and decodable PNG images.
    for stem in ["goodput", "timeline-0.3", "latency-1.3"] {
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{stem}");
        let png = std::fs::File::open(out.join(format!("{stem}.png"))).unwrap();
        let mut reader = png::Decoder::new(png).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (900, 560), "{stem}");
        // Not a blank image: the plot drew something besides the background.
        assert!(buf.iter().any(|&b| b < 200), "{stem} is blank");
    }
}

#[test]
fn bad_experiment_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (SHORT.replace("flows = 300", "flow = 300"), "flow"),
        (SHORT.replace("\"das\"]", "\"fastest\"]"), "run.schemes"),
        (SHORT.replace("[0.3, 1.3]", "[0.3, -1]"), "load.points"),
        (SHORT.replace("node = 0", "node = 5"), "straggler.node"),
        (SHORT.replace("\"400ms\"", "\"soon\""), "run.duration"),
        (
            "name = \"x\"\n[topology\n".to_string(),
            "not a valid experiment",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let res = das(&["experiment", file.to_str().unwrap(), "-q"]);
        assert_eq!(res.status.code(), Some(2), "{want}");
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(err.contains(want), "{want}: {err}");
        assert!(err.contains(&format!("bad{i}.toml")), "{err}");
    }
    let res = das(&["experiment", "no/such/experiment.toml"]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("no/such/experiment.toml"));
}
