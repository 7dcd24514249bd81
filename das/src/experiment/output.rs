//! The experiment's files (CSV, JSON) and its console summary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use duplicator::Scheme;

use super::measure::{Calibration, Point, Summary};
use super::spec::{LoadUnit, Plan};
use crate::report::{count, rate};

/// Writes points.csv, timeline.csv and results.json into `dir`; returns their paths.
pub fn write_all(
    dir: &Path,
    plan: &Plan,
    traffic: &str,
    calibration: &Calibration,
    points: &[Point],
    summary: &Summary,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut put = |name: &str, text: String| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    put("points.csv", points_csv(points))?;
    put("timeline.csv", timeline_csv(points))?;
    let doc = serde_json::json!({
        "experiment": plan.spec,
        "origin": plan.origin,
        "traffic": traffic,
        "rules": match &plan.rules {
            crate::alerts::RuleSource::Embedded => vec!["das.rules (built in)".to_string()],
            crate::alerts::RuleSource::Files(f) => f.iter().map(|p| p.display().to_string()).collect(),
        },
        "calibration": calibration,
        "summary": summary,
        "points": points,
    });
    put(
        "results.json",
        serde_json::to_string_pretty(&doc).context("serialising the results")? + "\n",
    )?;
    Ok(written)
}

/// The columns of points.csv.
pub const POINT_COLUMNS: &str = "scheme,load,repetition,offered_pps,offered_measured_pps,packets_in,unique,goodput_upp,ideal_upp,fraction_of_ideal,latency_p50_us,latency_p99_us,latency_p999_us,latency_max_us,duplicates_sent,duplicates_inspected,duplicates_useful,duplicates_wasted,drops_total,drop_reasons,alerts_unique,accounting_ok";

fn points_csv(points: &[Point]) -> String {
    let mut s = String::from(POINT_COLUMNS);
    s.push('\n');
    for p in points {
        let reasons: Vec<String> = p.drops.iter().map(|(r, n)| format!("{r}={n}")).collect();
        let _ = writeln!(
            s,
            "{},{},{},{:.1},{:.1},{},{},{:.1},{:.1},{:.4},{:.1},{:.1},{:.1},{:.1},{},{},{},{},{},{},{},{}",
            p.scheme,
            p.load,
            p.repetition,
            p.offered_pps,
            p.offered_measured_pps,
            p.packets_in,
            p.unique,
            p.goodput_upp,
            p.ideal_upp,
            p.fraction_of_ideal,
            p.latency.p50_us,
            p.latency.p99_us,
            p.latency.p999_us,
            p.latency.max_us,
            p.duplicates_sent,
            p.duplicates_inspected,
            p.duplicates_useful,
            p.duplicates_wasted,
            p.drops.values().sum::<u64>(),
            reasons.join(";"),
            p.alerts.unique,
            p.accounting_ok
        );
    }
    s
}

fn timeline_csv(points: &[Point]) -> String {
    let mut s = String::from("scheme,load,repetition,time_s,upp_per_sec\n");
    for p in points {
        for (i, v) in p.timeline.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},{},{:.3},{:.1}",
                p.scheme,
                p.load,
                p.repetition,
                i as f64 * p.timeline_ms / 1e3,
                v
            );
        }
    }
    s
}

/// The console summary: the calibration, a table per load, and the paper's claims
/// checked against the figures.
pub fn summary_text(
    plan: &Plan,
    calibration: &Calibration,
    summary: &Summary,
    wall: Duration,
    dir: &Path,
) -> String {
    let mut s = String::new();
    let spec = &plan.spec;
    let _ = writeln!(
        s,
        "das experiment {}: {} nodes{}, {} per point, {} repetition(s), {}; {} points in {:.0} s",
        spec.name,
        spec.topology.nodes,
        spec.topology
            .node_capacity
            .map(|c| format!(" at {c} of a core each"))
            .unwrap_or_default(),
        plan.duration.as_secs_f64().to_string() + " s",
        spec.run.repetitions,
        match &spec.straggler {
            Some(st) => format!(
                "straggler on node {} taking {:.0} % of its CPU for {:.0} % of each run",
                st.node,
                st.intensity * 100.0,
                st.length * 100.0
            ),
            None => "no straggler".into(),
        },
        summary.rows.iter().map(|r| r.repetitions).sum::<usize>(),
        wall.as_secs_f64()
    );
    let _ = writeln!(s, "  calibration: {}", calibration.describe());
    let _ = writeln!(
        s,
        "  {:>8} {:>11} {:<10} {:>12} {:>12} {:>9} {:>9} {:>11} {:>12}",
        "load",
        "offered/s",
        "scheme",
        "goodput/s",
        "ideal/s",
        "of ideal",
        "vs single",
        "p99 lat",
        "dups wasted"
    );
    for r in &summary.rows {
        let load = match plan.unit {
            LoadUnit::Capacity => format!("{:.0} %", r.load * 100.0),
            LoadUnit::Pps => format!("{} pps", count(r.load as u64)),
            LoadUnit::Mbps => format!("{} Mb/s", r.load),
        };
        let _ = writeln!(
            s,
            "  {:>8} {:>11} {:<10} {:>12} {:>12} {:>8.1}% {:>9} {:>8.0} us {:>12}",
            load,
            rate(r.offered_pps),
            r.scheme.to_string(),
            rate(r.goodput_upp),
            rate(r.ideal_upp),
            r.fraction_of_ideal * 100.0,
            r.vs_single
                .map(|v| format!("{:.1}%", v * 100.0))
                .unwrap_or_else(|| "-".into()),
            r.latency_p99_us,
            count(r.duplicates_wasted as u64)
        );
    }
    for line in claims(plan, summary) {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "  results in {}", dir.display());
    s
}

/// The paper's claims, checked on these figures (reported, never asserted).
fn claims(plan: &Plan, summary: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let rows = |scheme: Scheme| summary.rows.iter().filter(move |r| r.scheme == scheme);
    if plan.schemes.contains(&Scheme::Das) {
        let worst = rows(Scheme::Das)
            .map(|r| r.fraction_of_ideal)
            .fold(f64::INFINITY, f64::min);
        out.push(format!(
            "das: at least {:.1} % of the ideal at every load",
            worst * 100.0
        ));
        if plan.schemes.contains(&Scheme::Single) {
            let vs: Vec<f64> = rows(Scheme::Das).filter_map(|r| r.vs_single).collect();
            let min = vs.iter().copied().fold(f64::INFINITY, f64::min);
            out.push(format!(
                "das against single-copy: {:.1} % at its worst load ({})",
                min * 100.0,
                if min >= 1.0 {
                    "das >= single-copy at every load"
                } else {
                    "below single-copy at some load"
                }
            ));
        }
    }
    if plan.schemes.contains(&Scheme::Clone) {
        let clone: Vec<String> = rows(Scheme::Clone)
            .map(|r| format!("{:.0} %", r.fraction_of_ideal * 100.0))
            .collect();
        out.push(format!(
            "clone, fraction of the ideal by load: {}",
            clone.join(", ")
        ));
    }
    out
}
