//! What an experiment measures: the calibration, one point's figures, the ideal
//! goodput, and the summary per scheme and load.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::latency::LatencyReport;
use dataplane::memory::TimedFrame;
use dedup::DedupReport;
use duplicator::Scheme;
use ids_worker::engine::{Detector, Engine, EngineConfig};
use ids_worker::{NodeReport, StragglerReport};
use serde::Serialize;

use super::spec::Plan;
use crate::alerts::AlertSummary;
use crate::pipeline::RunReport;
use crate::report;

/// Packets per second one engine inspects alone on this thread, over the experiment's
/// frames (at most about 0.3 s of work): the first estimate of a node's capacity.
pub fn engine_rate(frames: &Arc<[TimedFrame]>, detector: &Arc<Detector>) -> f64 {
    let mut engine = Engine::new(detector.clone(), EngineConfig::default());
    let mut alerts = Vec::new();
    let start = Instant::now();
    let mut n = 0u64;
    for (ts, frame) in frames.iter() {
        engine.process(frame, *ts, &mut alerts);
        alerts.clear();
        n += 1;
        if n % 1024 == 0 && start.elapsed() > Duration::from_millis(300) {
            break;
        }
    }
    n as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

/// The warnings of a run's nodes and stragglers, each once.
pub fn node_warnings<'a>(
    nodes: impl Iterator<Item = &'a NodeReport>,
    stragglers: impl Iterator<Item = &'a StragglerReport>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = nodes
        .flat_map(|n| {
            n.threads.iter().flat_map(move |t| {
                t.warnings
                    .iter()
                    .map(move |w| format!("node {}: {w}", n.id))
            })
        })
        .chain(stragglers.flat_map(|s| {
            s.warnings
                .iter()
                .map(move |w| format!("straggler on node {}: {w}", s.straggler.node))
        }));
    for w in all {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Each node's measured capacity.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// One engine alone on the calling thread, packets/s.
    pub engine_alone_pps: f64,
    /// What the calibration run offered, packets/s.
    pub offered_pps: f64,
    /// How long it offered it.
    pub duration_secs: f64,
    /// Packets/s each node's primary instance inspected when saturated.
    pub node_pps: Vec<f64>,
    /// Their sum: the cluster's capacity.
    pub cluster_pps: f64,
    /// Per node, whether it dropped primaries at its queue (it was saturated, so its
    /// rate is its capacity).
    pub node_saturated: Vec<bool>,
    /// Whether every node was saturated.
    pub saturated: bool,
    /// Calibration runs this figure comes from.
    pub rounds: usize,
    /// What the nodes warned about (CPU placement, cgroups).
    pub warnings: Vec<String>,
}

impl Calibration {
    /// The calibration from a single-copy run offered above the nodes' capacity.
    pub fn from_figures(r: &RunFigures, engine_pps: f64, offered: f64, d: Duration) -> Self {
        let secs = r.elapsed_secs.max(1e-9);
        let node_pps: Vec<f64> = r
            .nodes
            .iter()
            .map(|n| n.primary.inspected as f64 / secs)
            .collect();
        let node_saturated: Vec<bool> = r
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let sent = r.primaries_sent.get(i).copied().unwrap_or(0);
                (n.primary.inspected as f64) < 0.97 * sent as f64
            })
            .collect();
        Calibration {
            engine_alone_pps: engine_pps,
            offered_pps: offered,
            duration_secs: d.as_secs_f64(),
            cluster_pps: node_pps.iter().sum(),
            node_pps,
            saturated: node_saturated.iter().all(|&s| s),
            node_saturated,
            rounds: 1,
            warnings: r.warnings.clone(),
        }
    }

    /// The capacity that calibration rounds (at least one) show: per node the highest
    /// rate it inspected in any round (a rate it sustained is within its capacity),
    /// saturated when a round that saturated it measured within 5 % of that rate (it
    /// was offered more and did not do more). A node offered far more than it can
    /// take inspects flows full of holes, which costs more per packet, so its rate in
    /// such a round is below its capacity; the highest rate leaves those rounds out.
    /// Offered rate, duration and warnings are the last round's.
    pub fn best_of(rounds: &[Calibration]) -> Calibration {
        let last = rounds.last().expect("at least one calibration round");
        let nodes = last.node_pps.len();
        let node_pps: Vec<f64> = (0..nodes)
            .map(|i| rounds.iter().map(|r| r.node_pps[i]).fold(0.0, f64::max))
            .collect();
        let node_saturated: Vec<bool> = (0..nodes)
            .map(|i| {
                rounds
                    .iter()
                    .any(|r| r.node_saturated[i] && r.node_pps[i] >= 0.95 * node_pps[i])
            })
            .collect();
        Calibration {
            engine_alone_pps: last.engine_alone_pps,
            offered_pps: last.offered_pps,
            duration_secs: last.duration_secs,
            cluster_pps: node_pps.iter().sum(),
            node_pps,
            saturated: node_saturated.iter().all(|&s| s),
            node_saturated,
            rounds: rounds.len(),
            warnings: last.warnings.clone(),
        }
    }

    /// One line for the console.
    pub fn describe(&self) -> String {
        let nodes: Vec<String> = self
            .node_pps
            .iter()
            .enumerate()
            .map(|(i, p)| format!("node {i} {}", report::rate(*p)))
            .collect();
        let rounds = if self.rounds > 1 {
            format!("the highest of {} rounds, the last ", self.rounds)
        } else {
            String::new()
        };
        format!(
            "cluster capacity {} packets/s ({}), {rounds}measured with {} packets/s offered single-copy for {:.1} s{}",
            report::rate(self.cluster_pps),
            nodes.join(", "),
            report::rate(self.offered_pps),
            self.duration_secs,
            if self.saturated {
                ""
            } else {
                " (warning: a node was not saturated; its capacity may be higher)"
            }
        )
    }

    /// The ideal goodput at `offered` packets/s: min(offered, the nodes' remaining
    /// capacity), averaged over the run (a straggler taking `intensity` of a node's CPU
    /// for a `length` fraction of it).
    pub fn ideal(&self, offered: f64, straggler: Option<(usize, f64, f64)>) -> f64 {
        let full = offered.min(self.cluster_pps);
        match straggler {
            Some((node, length, intensity)) => {
                let slowed =
                    self.cluster_pps - self.node_pps.get(node).copied().unwrap_or(0.0) * intensity;
                (1.0 - length) * full + length * offered.min(slowed)
            }
            None => full,
        }
    }
}

/// The figures of one (scheme, load, repetition) point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// The scheme.
    pub scheme: Scheme,
    /// The load as the experiment gives it.
    pub load: f64,
    /// The repetition (from 0).
    pub repetition: usize,
    /// Packets/s the source was asked to offer.
    pub offered_pps: f64,
    /// Packets the source offered.
    pub packets_in: u64,
    /// Packets/s it achieved over the run.
    pub offered_measured_pps: f64,
    /// Unique packets out of dedup.
    pub unique: u64,
    /// Goodput: unique packets per second while packets came out.
    pub goodput_upp: f64,
    /// The ideal goodput: min(offered, the nodes' remaining capacity), run average.
    pub ideal_upp: f64,
    /// Goodput as a fraction of the ideal.
    pub fraction_of_ideal: f64,
    /// Seconds the run took.
    pub elapsed_secs: f64,
    /// Latency from duplicator to dedup of the unique packets.
    pub latency: LatencyReport,
    /// Drops by reason (every stage and queue).
    pub drops: BTreeMap<String, u64>,
    /// Duplicates the duplicator sent.
    pub duplicates_sent: u64,
    /// Of those, duplicates sent to a rescue queue: their primary found its node's
    /// queue full.
    pub duplicates_rescued: u64,
    /// Duplicates the secondary instances inspected (work done).
    pub duplicates_inspected: u64,
    /// Duplicates that were the first copy of their job to reach dedup (useful work).
    pub duplicates_useful: u64,
    /// Duplicates inspected that were not the first copy (wasted work).
    pub duplicates_wasted: u64,
    /// Primaries each node's primary instance inspected.
    pub primary_inspected: Vec<u64>,
    /// Duplicates each node's secondary instance inspected.
    pub secondary_inspected: Vec<u64>,
    /// The CPU each node's threads got over the run, as a fraction of one core (none
    /// where the OS did not tell; a straggler's work is not included).
    pub node_cpu: Vec<Option<f64>>,
    /// The cluster's alerts.
    pub alerts: AlertSummary,
    /// The share of its node's CPU the straggler took in its window (none without one).
    pub straggler_intensity: Option<f64>,
    /// What the nodes and the straggler warned about.
    pub warnings: Vec<String>,
    /// The UPP/sec timeline, one value per interval.
    pub timeline: Vec<f64>,
    /// Length of a timeline interval, ms.
    pub timeline_ms: f64,
    /// Whether every accounting check held (received = forwarded + dropped everywhere,
    /// every packet in left dedup once or was dropped with a reason).
    pub accounting_ok: bool,
    /// The checks that failed.
    pub accounting_failures: Vec<String>,
}

impl Point {
    /// The figures of a finished run.
    pub fn from_figures(
        plan: &Plan,
        calibration: &Calibration,
        r: RunFigures,
        alerts: AlertSummary,
        (scheme, load, offered, repetition): (Scheme, f64, f64, usize),
    ) -> Self {
        let duplicates_inspected: u64 = r.nodes.iter().map(|n| n.secondary.inspected).sum();
        let duplicates_useful = r.dedup.first_from_duplicate;
        let straggler = plan.spec.straggler.map(|s| (s.node, s.length, s.intensity));
        let ideal = calibration.ideal(offered, straggler);
        let goodput = r.dedup.upp.mean_upp_per_sec.unwrap_or(0.0);
        Point {
            scheme,
            load,
            repetition,
            offered_pps: offered,
            packets_in: r.packets_in,
            offered_measured_pps: r.packets_in as f64 / r.elapsed_secs.max(1e-9),
            unique: r.dedup.upp.unique,
            goodput_upp: goodput,
            ideal_upp: ideal,
            fraction_of_ideal: if ideal > 0.0 { goodput / ideal } else { 0.0 },
            elapsed_secs: r.elapsed_secs,
            latency: r.dedup.latency.clone(),
            drops: r.drops,
            duplicates_sent: r.duplicates_sent,
            duplicates_rescued: r.duplicates_rescued,
            duplicates_inspected,
            duplicates_useful,
            duplicates_wasted: duplicates_inspected.saturating_sub(duplicates_useful),
            primary_inspected: r.nodes.iter().map(|n| n.primary.inspected).collect(),
            secondary_inspected: r.nodes.iter().map(|n| n.secondary.inspected).collect(),
            node_cpu: r
                .nodes
                .iter()
                .map(|n| {
                    let secs: Option<f64> = n.threads.iter().map(|t| t.cpu_secs).sum();
                    secs.map(|s| s / r.elapsed_secs.max(1e-9))
                })
                .collect(),
            alerts,
            straggler_intensity: r.straggler_intensity,
            warnings: r.warnings,
            timeline: r.dedup.upp.timeline.clone(),
            timeline_ms: r.dedup.upp.interval_ms,
            accounting_ok: r.checks.iter().all(|c| c.ok),
            accounting_failures: r
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect(),
        }
    }
}

/// What an experiment takes from one run of the cluster, whether its stages ran as
/// threads of this process or as processes in network namespaces.
#[derive(Debug, Clone)]
pub struct RunFigures {
    /// Packets the source offered.
    pub packets_in: u64,
    /// Seconds the traffic took.
    pub elapsed_secs: f64,
    /// Primaries the duplicator sent each node.
    pub primaries_sent: Vec<u64>,
    /// Duplicates the duplicator sent.
    pub duplicates_sent: u64,
    /// Of those, duplicates sent to a rescue queue.
    pub duplicates_rescued: u64,
    /// Each node.
    pub nodes: Vec<NodeReport>,
    /// The share of its node's CPU the straggler took in its window.
    pub straggler_intensity: Option<f64>,
    /// Dedup: unique packets, UPP/sec, latency.
    pub dedup: DedupReport,
    /// Drops by reason, summed over every place.
    pub drops: BTreeMap<String, u64>,
    /// What the nodes and the straggler warned about.
    pub warnings: Vec<String>,
    /// The accounting checks.
    pub checks: Vec<report::Check>,
}

impl RunFigures {
    /// The figures of a run of the one-process pipeline.
    pub fn from_run(r: &RunReport) -> Self {
        RunFigures {
            packets_in: r.source_forward.packets,
            elapsed_secs: r.elapsed_secs,
            primaries_sent: r.duplicator.copies_per_node.iter().map(|c| c[0]).collect(),
            duplicates_sent: r.duplicator.duplicates,
            duplicates_rescued: r.duplicator.rescued,
            nodes: r.node_reports.clone(),
            straggler_intensity: r.stragglers.first().map(|s| s.achieved_intensity),
            dedup: r.dedup.clone(),
            drops: report::drops_by_reason(r)
                .into_iter()
                .map(|(reason, places)| (reason, places.iter().map(|(_, n)| n).sum()))
                .collect(),
            warnings: node_warnings(r.node_reports.iter(), r.stragglers.iter()),
            checks: report::accounting(r),
        }
    }
}

/// One (scheme, load) over its repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scheme.
    pub scheme: Scheme,
    /// The load as given.
    pub load: f64,
    /// Offered packets/s.
    pub offered_pps: f64,
    /// Mean goodput, UPP/sec.
    pub goodput_upp: f64,
    /// Smallest and largest goodput over the repetitions.
    pub goodput_range: (f64, f64),
    /// The ideal goodput.
    pub ideal_upp: f64,
    /// Mean goodput over the ideal.
    pub fraction_of_ideal: f64,
    /// Mean goodput over single-copy's at the same load (none without single-copy).
    pub vs_single: Option<f64>,
    /// Mean p99 latency, µs.
    pub latency_p99_us: f64,
    /// Mean duplicates inspected per run, and the wasted part.
    pub duplicates_inspected: f64,
    /// Mean wasted duplicates per run.
    pub duplicates_wasted: f64,
    /// Repetitions.
    pub repetitions: usize,
}

/// The summary of every point.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// One row per (scheme, load), in the order of the experiment.
    pub rows: Vec<Row>,
}

/// Averages every (scheme, load) over its repetitions.
pub fn summarize(plan: &Plan, points: &[Point]) -> Summary {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut rows = Vec::new();
    for &load in &plan.spec.load.points {
        for &scheme in &plan.schemes {
            let ps: Vec<&Point> = points
                .iter()
                .filter(|p| p.scheme == scheme && p.load == load)
                .collect();
            if ps.is_empty() {
                continue;
            }
            let g: Vec<f64> = ps.iter().map(|p| p.goodput_upp).collect();
            rows.push(Row {
                scheme,
                load,
                offered_pps: ps[0].offered_pps,
                goodput_upp: mean(&g),
                goodput_range: (
                    g.iter().copied().fold(f64::INFINITY, f64::min),
                    g.iter().copied().fold(0.0, f64::max),
                ),
                ideal_upp: ps[0].ideal_upp,
                fraction_of_ideal: mean(&g) / ps[0].ideal_upp.max(1e-9),
                vs_single: None,
                latency_p99_us: mean(&ps.iter().map(|p| p.latency.p99_us).collect::<Vec<_>>()),
                duplicates_inspected: mean(
                    &ps.iter()
                        .map(|p| p.duplicates_inspected as f64)
                        .collect::<Vec<_>>(),
                ),
                duplicates_wasted: mean(
                    &ps.iter()
                        .map(|p| p.duplicates_wasted as f64)
                        .collect::<Vec<_>>(),
                ),
                repetitions: ps.len(),
            });
        }
    }
    let single: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.scheme == Scheme::Single)
        .map(|r| (r.load, r.goodput_upp))
        .collect();
    for r in &mut rows {
        r.vs_single = single
            .iter()
            .find(|(l, _)| *l == r.load)
            .map(|(_, g)| r.goodput_upp / g.max(1e-9));
    }
    Summary { rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calibration {
        Calibration {
            engine_alone_pps: 0.0,
            offered_pps: 0.0,
            duration_secs: 1.0,
            node_pps: vec![100.0, 100.0],
            cluster_pps: 200.0,
            node_saturated: vec![true, true],
            saturated: true,
            rounds: 1,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn capacity_is_the_highest_rate_each_node_sustained() {
        let round = |pps: [f64; 2], sat: [bool; 2]| Calibration {
            node_pps: pps.to_vec(),
            cluster_pps: pps.iter().sum(),
            node_saturated: sat.to_vec(),
            saturated: sat.iter().all(|&s| s),
            ..cal()
        };
        // Far above capacity, then just above it (node 1 not saturated), then again.
        let rounds = [
            round([60.0, 70.0], [true, true]),
            round([100.0, 90.0], [true, false]),
            round([97.0, 95.0], [true, true]),
        ];
        let best = Calibration::best_of(&rounds);
        assert_eq!(best.node_pps, vec![100.0, 95.0]);
        assert_eq!(best.cluster_pps, 195.0);
        assert_eq!(best.node_saturated, vec![true, true]);
        assert!(best.saturated);
        assert_eq!(best.rounds, 3);
        // Node 1 saturated only far below the rate it reached unsaturated.
        let best = Calibration::best_of(&rounds[..2]);
        assert_eq!(best.node_saturated, vec![true, false]);
        assert!(!best.saturated);
    }

    #[test]
    fn ideal_is_min_of_offered_and_remaining_capacity() {
        let c = cal();
        assert_eq!(c.ideal(50.0, None), 50.0);
        assert_eq!(c.ideal(300.0, None), 200.0);
        // Node 0 at half speed for 60 % of the run: 150 remain in the window.
        assert!((c.ideal(300.0, Some((0, 0.6, 0.5))) - (0.4 * 200.0 + 0.6 * 150.0)).abs() < 1e-9);
        assert_eq!(c.ideal(120.0, Some((0, 0.6, 0.5))), 120.0);
    }
}
