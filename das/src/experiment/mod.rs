//! `das experiment`: the IDS-cluster experiment end to end. Calibrates the nodes'
//! capacity with the experiment's rules and traffic, runs every (scheme × load ×
//! repetition) point through the whole pipeline, and writes CSV, JSON and plots.

mod measure;
mod netns;
mod output;
mod plot;
pub mod spec;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::memory::{FramesReplay, TimedFrame};
use dataplane::pcap::{LINKTYPE_ETHERNET, Pace, read_frames};
use dataplane::ring::Overflow;
use duplicator::Scheme;
use ids_worker::{DuplicatePolicy, RunWindow, Straggler};

use crate::alerts::{self, AlertSink, AlertSummary, ClusterAlerts, LoadedRules};
use crate::pipeline::{self, FunctionChoice, PipelineConfig, Source};
use measure::{Calibration, Point, RunFigures};
use spec::{Deployment, LoadUnit, Overrides, Plan};

/// Options of `das experiment`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without FILE, runs the built-in short experiment (experiments/quick.toml: generated \
traffic, the project's own rules, 2 nodes, single-copy, cloning and DAS at four loads, \
a straggler on node 0 for 60 % of each run). First calibrates: the nodes' capacity with \
the experiment's rules and traffic on this machine, which loads given as fractions of \
capacity are relative to. Then runs every scheme at every load, side by side, and \
writes to --out: points.csv (one row per point), timeline.csv (UPP/sec per interval), \
results.json (the plan, the calibration, every point with latency percentiles and CDF, \
drops by reason, duplicate work done and wasted, alerts), and plots as SVG and PNG: \
goodput against load with the ideal, the UPP/sec timeline of each load with the \
straggler window shaded, the latency CDF of each load. Exit status 0 when every point's \
accounting holds, 1 when one fails, 2 on an error.

With --topology netns (root), every run starts the stages as processes (das dedup, das \
worker, das duplicator, das replay), each host a network namespace linked by veth pairs \
with AF_PACKET, AF_XDP or DPDK ports (--ports), and reads their reports; each run's \
reports and logs stay under OUT/netns/. The nodes' queues are then their sockets' kernel \
rings (drop-tail): run.queue_size and run.dup_queue_size do not apply. With --ports dpdk \
(a das built with --features dpdk) each stage starts its own EAL from a folder written to \
OUT/netns/dpdk/HOST/, and each port is a net_af_packet device on the stage's veth end, so \
the traffic crosses the same links. The namespaces (and the stages' DPDK runtime folders) \
are removed when the experiment ends, fails or is interrupted.")]
pub struct ExperimentArgs {
    /// The experiment file (TOML); see experiments/*.toml.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,

    /// Directory for the results (created). Default: results/NAME.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Override run.duration (per point), e.g. 2s.
    #[arg(long, value_name = "DURATION")]
    duration: Option<String>,

    /// Override load.points, e.g. 0.2,0.5,0.8.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    loads: Option<Vec<f64>>,

    /// Override run.schemes, e.g. single,das.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    schemes: Option<Vec<String>>,

    /// Override run.repetitions.
    #[arg(long, value_name = "N")]
    repetitions: Option<usize>,

    /// Run without the file's straggler.
    #[arg(long)]
    no_straggler: bool,

    /// No rescue queues (sets run.rescue = false): DAS and hedged duplicates whose
    /// primary found its queue full wait with the other duplicates.
    #[arg(long)]
    no_rescue: bool,

    /// Override topology.node_capacity (fraction of a core per node, cgroup, root).
    #[arg(long, value_name = "F", value_parser = crate::spec::fraction)]
    node_capacity: Option<f64>,

    /// Where the stages run: process (threads of this process; the default) or netns
    /// (one process per host in network namespaces linked by veth pairs; root).
    /// Overrides topology.kind.
    #[arg(long, value_name = "KIND")]
    topology: Option<String>,

    /// With --topology netns: the stages' ports, afpacket, afxdp or dpdk (DPDK
    /// net_af_packet devices on the same veths; needs a das built with --features
    /// dpdk). Overrides topology.ports.
    #[arg(long, value_name = "KIND")]
    ports: Option<String>,

    /// Print only the summary (no progress bar).
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `das experiment`.
pub fn run(args: ExperimentArgs) -> Result<ExitCode> {
    let plan = spec::load(
        args.file.as_deref(),
        &Overrides {
            duration: args.duration.clone(),
            loads: args.loads.clone(),
            schemes: args.schemes.clone(),
            repetitions: args.repetitions,
            no_straggler: args.no_straggler,
            no_rescue: args.no_rescue,
            node_capacity: args.node_capacity,
            kind: args.topology.clone(),
            ports: args.ports.clone(),
        },
    )?;
    if let Deployment::Netns(_) = plan.deployment {
        netns::Topology::preflight()?;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&plan.spec.name));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let say = |line: String| {
        if !args.quiet {
            eprintln!("{line}");
        }
    };

    let (traffic, frames) = traffic(&plan)?;
    let mean_frame = frames.iter().map(|(_, f)| f.len() as f64).sum::<f64>() / frames.len() as f64;
    let rules = alerts::load_rules(&plan.rules, ids_worker::engine::Backend::Anchor)?;
    say(format!(
        "das experiment {}: {}; traffic: {traffic} ({} frames, mean {:.0} bytes); rules: {} ({} loaded)",
        plan.spec.name,
        plan.origin,
        frames.len(),
        mean_frame,
        rules.description,
        rules.report.loaded
    ));

    let runner = match plan.deployment {
        Deployment::Process => Runner::Process,
        Deployment::Netns(ports) => {
            let cluster = netns::NetCluster::new(&plan, ports, &frames, &out)?;
            say(format!("topology: {}", cluster.describe()));
            Runner::Netns(Box::new(cluster))
        }
    };
    let setup = Setup {
        plan: &plan,
        frames: &frames,
        rules: &rules,
        runner,
    };
    let calibration = calibrate(&setup, &say)?;
    for w in &calibration.warnings {
        eprintln!("das: warning: {w}");
    }

    let offered: Vec<(f64, f64)> = plan
        .spec
        .load
        .points
        .iter()
        .map(|&l| {
            let pps = match plan.unit {
                LoadUnit::Capacity => l * calibration.cluster_pps,
                LoadUnit::Pps => l,
                LoadUnit::Mbps => l * 1e6 / 8.0 / mean_frame,
            };
            (l, pps)
        })
        .collect();
    let total = plan.schemes.len() * offered.len() * plan.spec.run.repetitions;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} points, {elapsed} elapsed, about {eta} left  {msg}",
        )
        .expect("static template"),
    );
    let started = Instant::now();
    let mut points = Vec::new();
    for rep in 0..plan.spec.run.repetitions {
        for &(load, pps) in &offered {
            for &scheme in &plan.schemes {
                bar.set_message(format!("{scheme} at load {load}"));
                let point = run_point(&setup, &calibration, scheme, (load, pps), rep)
                    .with_context(|| format!("{scheme} at load {load}"))?;
                bar.inc(1);
                points.push(point);
            }
        }
    }
    bar.finish_and_clear();
    // Removes the network namespaces, if any, before the results are written.
    drop(setup);
    let wall = started.elapsed();

    let summary = measure::summarize(&plan, &points);
    let files = output::write_all(&out, &plan, &traffic, &calibration, &points, &summary)?;
    let plots = plot::draw_all(&out, &plan, &calibration, &points, &summary)?;
    print!(
        "{}",
        output::summary_text(&plan, &calibration, &summary, wall, &out)
    );
    for f in files.iter().chain(&plots) {
        println!("  wrote {}", f.display());
    }
    let failed: Vec<String> = points
        .iter()
        .filter(|p| !p.accounting_ok)
        .map(|p| format!("{} at load {} (rep {})", p.scheme, p.load, p.repetition))
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "das: accounting failed for {} (see results.json)",
            failed.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// The experiment's traffic, held in memory: generated or read from the captures.
fn traffic(plan: &Plan) -> Result<(String, Arc<[TimedFrame]>)> {
    let t = &plan.spec.traffic;
    if t.pcaps.is_empty() {
        let packets = traffic_gen::generate(traffic_gen::GenConfig {
            flows: t.flows,
            seed: t.seed,
            attack_fraction: t.attacks,
            ..traffic_gen::GenConfig::default()
        })
        .context("traffic generator")?
        .0;
        let frames: Vec<TimedFrame> = packets
            .into_iter()
            .map(|p| (p.timestamp_ns, p.frame))
            .collect();
        Ok((
            format!(
                "generated ({} flows, seed {}, {:.0} % attacks)",
                t.flows,
                t.seed,
                t.attacks * 100.0
            ),
            frames.into(),
        ))
    } else {
        let mut frames = Vec::new();
        for p in &t.pcaps {
            let read =
                read_frames(p).with_context(|| format!("cannot read capture {}", p.display()))?;
            frames.extend(
                read.into_iter()
                    .filter(|f| f.link_type == LINKTYPE_ETHERNET)
                    .map(|f| (f.timestamp_ns, f.data)),
            );
        }
        if frames.is_empty() {
            bail!("the captures hold no Ethernet frames");
        }
        Ok((format!("{} capture(s)", t.pcaps.len()), frames.into()))
    }
}

/// What one run offers.
struct Offer {
    scheme: Scheme,
    pps: f64,
    duration: Duration,
    /// Whether the experiment's straggler runs.
    straggler: bool,
}

/// The pipeline settings of one run.
fn config(
    plan: &Plan,
    frames: &Arc<[TimedFrame]>,
    rules: &LoadedRules,
    sink: &AlertSink,
    offer: Offer,
) -> PipelineConfig {
    let Offer {
        scheme,
        pps,
        duration,
        straggler,
    } = offer;
    let t = &plan.spec.topology;
    let r = &plan.spec.run;
    let cores = if t.cores.is_empty() {
        crate::spec::all_cpus()
    } else {
        t.cores.clone()
    };
    let stragglers = match (&plan.spec.straggler, straggler) {
        (Some(s), true) => vec![Straggler {
            node: s.node,
            window: RunWindow {
                start: duration.mul_f64(s.start),
                duration: duration.mul_f64(s.length),
            },
            intensity: s.intensity,
        }],
        _ => Vec::new(),
    };
    PipelineConfig {
        source: Source::Memory {
            description: "experiment traffic".into(),
            frames: frames.clone(),
            replay: FramesReplay {
                pace: Pace::PacketsPerSec(pps),
                packets: (pps * duration.as_secs_f64()).round().max(1.0) as u64,
                distinct_loops: plan.spec.traffic.distinct_loops,
            },
        },
        nodes: t.nodes,
        duplicators: 1,
        scheme,
        batch: 32,
        queue_capacity: r.queue_size,
        primary_overflow: Overflow::DropTail,
        duplicate_capacity: r.dup_queue_size,
        duplicate_policy: match scheme {
            Scheme::Das | Scheme::Hedged => DuplicatePolicy::Purge,
            Scheme::ClonePrio => DuplicatePolicy::Lossless,
            Scheme::Single | Scheme::Clone => DuplicatePolicy::DropOldest,
        },
        hedge_depth: 64,
        guard: true,
        window: 1 << 22,
        cores,
        mode: plan.sched,
        duplicate_batch: ids_worker::node::DEFAULT_DUPLICATE_BATCH,
        purge_primaries: r.purge_primaries && matches!(scheme, Scheme::Das | Scheme::Hedged),
        rescue: r.rescue,
        capacity: t.node_capacity,
        faults: Vec::new(),
        stragglers,
        function: FunctionChoice::Ids(rules.detector.clone(), sink.clone()),
        output: None,
        upp_interval: Duration::from_millis(r.timeline_ms),
        content_dedup: None,
    }
}

/// Measures each node's capacity: single-copy traffic offered above what the nodes can
/// take (primaries dropped at full queues, as at a NIC), for the calibration time; a
/// node's capacity is the highest rate its primary instance inspected in any round.
/// The first round offers 1.2 times what the engine alone does; far above capacity a
/// node inspects flows full of holes, which costs more per packet, so each further
/// round offers 15 % above the highest rates so far, until every node, offered more,
/// did not do more (at least two rounds, at most [`MAX_CALIBRATION_ROUNDS`]).
fn calibrate(setup: &Setup, say: &dyn Fn(String)) -> Result<Calibration> {
    let Setup {
        plan,
        frames,
        rules,
        ..
    } = setup;
    let engine_pps = measure::engine_rate(frames, &rules.detector);
    let share = plan.spec.topology.node_capacity.unwrap_or(1.0);
    let nodes = plan.spec.topology.nodes;
    let mut offered = 1.2 * engine_pps * share * nodes as f64;
    say(format!(
        "calibration: one engine alone inspects {} packets/s on this core; {} nodes at {} of a core each",
        crate::report::rate(engine_pps),
        nodes,
        share
    ));
    let mut rounds: Vec<Calibration> = Vec::new();
    for round in 0..MAX_CALIBRATION_ROUNDS {
        let (figures, _) = run_cluster(
            setup,
            Offer {
                scheme: Scheme::Single,
                pps: offered,
                duration: plan.calibration,
                straggler: false,
            },
            &format!("calibration{}", round + 1),
        )
        .context("calibration run")?;
        let cal = Calibration::from_figures(&figures, engine_pps, offered, plan.calibration);
        say(format!(
            "calibration round {}: {}",
            round + 1,
            cal.describe()
        ));
        rounds.push(cal);
        // Settled once every node was offered more than the highest rate it reached
        // and did not do more; until then, offer 15 % above that rate.
        let best = Calibration::best_of(&rounds);
        if rounds.len() >= 2 && best.saturated {
            break;
        }
        offered = 1.15 * best.cluster_pps;
    }
    Ok(Calibration::best_of(&rounds))
}

/// Most calibration rounds an experiment runs.
const MAX_CALIBRATION_ROUNDS: usize = 5;

fn run_point(
    setup: &Setup,
    calibration: &Calibration,
    scheme: Scheme,
    (load, pps): (f64, f64),
    repetition: usize,
) -> Result<Point> {
    let plan = setup.plan;
    let (figures, alerts) = run_cluster(
        setup,
        Offer {
            scheme,
            pps,
            duration: plan.duration,
            straggler: true,
        },
        &format!("{scheme}-{load}-{repetition}"),
    )?;
    Ok(Point::from_figures(
        plan,
        calibration,
        figures,
        alerts,
        (scheme, load, pps, repetition),
    ))
}

/// What every run of an experiment shares.
struct Setup<'a> {
    plan: &'a Plan,
    frames: &'a Arc<[TimedFrame]>,
    rules: &'a LoadedRules,
    runner: Runner,
}

/// Where the experiment's runs go.
enum Runner {
    /// The one-process pipeline.
    Process,
    /// Stage processes in network namespaces.
    Netns(Box<netns::NetCluster>),
}

/// Runs the cluster once: its figures and its alerts, deduplicated across the nodes.
fn run_cluster(setup: &Setup, offer: Offer, label: &str) -> Result<(RunFigures, AlertSummary)> {
    let Setup {
        plan,
        frames,
        rules,
        runner,
    } = setup;
    match runner {
        Runner::Process => {
            let sink = AlertSink::default();
            let report = pipeline::run(
                config(plan, frames, rules, &sink, offer),
                Duration::from_millis(50),
                |_, _| {},
            )?;
            let (raised, dropped) = sink.take();
            let alerts = ClusterAlerts::build(raised, dropped, &rules.detector).summary;
            Ok((RunFigures::from_run(&report), alerts))
        }
        Runner::Netns(cluster) => {
            let straggler = match (&plan.spec.straggler, offer.straggler) {
                (Some(s), true) => Some((
                    s.node,
                    offer.duration.mul_f64(s.start),
                    offer.duration.mul_f64(s.length),
                    s.intensity,
                )),
                _ => None,
            };
            let outcome = cluster.run(&netns::NetRun {
                scheme: offer.scheme,
                pps: offer.pps,
                packets: (offer.pps * offer.duration.as_secs_f64()).round().max(1.0) as u64,
                duration: offer.duration,
                straggler,
                label: label.to_string(),
            })?;
            let alerts =
                ClusterAlerts::build(outcome.raised, outcome.alerts_dropped, &rules.detector)
                    .summary;
            Ok((outcome.figures, alerts))
        }
    }
}
