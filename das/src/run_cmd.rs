//! `das run`: the one-process pipeline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::pcap::Pace;
use dataplane::ring::Overflow;
use duplicator::Scheme;
use ids_worker::{DuplicatePolicy, NodeFaults, RunWindow, SchedMode, Straggler};

use crate::alerts::ClusterAlerts;
use crate::gen_cmd::{CaptureArgs, TrafficArgs};
use crate::pipeline::{self, FunctionArgs, PipelineConfig, Source};
use crate::report;
use crate::spec;
use crate::spec::FunctionSpec;
use dedup::{ContentConfig, Fingerprint};

/// Options of `das run`.
#[derive(Debug, Args)]
#[command(after_help = "\
Output: a summary of every stage (packets in, jobs and copies at the duplicator, what \
each node inspected and dropped, unique packets out, drops by reason, UPP/sec, latency) \
and an accounting line that checks received = forwarded + dropped at every stage. The \
exit status is 0 when every check holds, 1 when one fails, 2 on an error.")]
pub struct RunArgs {
    #[command(flatten)]
    capture: CaptureArgs,

    /// Replay pace: max (as fast as the pipeline takes), <N>pps, <N>mbps (megabits of
    /// frame bytes per second), capture (the capture's own timing) or capture*<SPEED>.
    #[arg(long, default_value = "max", value_name = "PACE", requires = "pcap")]
    pace: Pace,

    #[command(flatten)]
    traffic: TrafficArgs,

    /// Number of IDS nodes.
    #[arg(long, default_value_t = 2, value_name = "N")]
    nodes: usize,

    /// Duplicator cores: the source spreads flows over them by their symmetric hash
    /// (software RSS); job ids stay unique (each core stamps its own duplicator id).
    #[arg(long, default_value_t = 1, value_name = "N")]
    duplicators: usize,

    /// Duplication scheme: single (no duplicates), clone (duplicate at equal priority),
    /// clone-prio (duplicate at low priority, never dropped), das (duplicate at low
    /// priority, bounded queue, purged, overload guard), hedged (das, but a duplicate
    /// only while the primary node's queue is long).
    #[arg(long, default_value = "das", value_name = "SCHEME")]
    scheme: Scheme,

    /// Write the unique packets (the original frames) to this pcap file (ns timestamps).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Write every counter of the run as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Packets per batch (1 to 256).
    #[arg(long, default_value_t = dataplane::DEFAULT_BATCH, value_name = "N")]
    batch: usize,

    /// Capacity of every lossless queue, in packets.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    queue_size: usize,

    /// Capacity of each node's duplicate queue (drop-oldest when full), in packets.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    dup_queue_size: usize,

    /// Dedup window in job ids (a power of two); must exceed the job ids in flight.
    #[arg(long, default_value_t = 1 << 20, value_name = "N")]
    window: usize,

    /// What a full node queue 0 does: backpressure (lossless: the duplicator waits) or
    /// drop-tail (as a NIC ring: primaries a busy node cannot take are dropped).
    #[arg(long, default_value = "backpressure", value_name = "POLICY", value_parser = parse_overflow)]
    primary_overflow: Overflow,

    /// What a node's duplicate queue does when full: drop-oldest, drop-tail, purge
    /// (drop-oldest, and duplicates whose primary was already delivered are removed
    /// before inspection, on completion notices from dedup) or lossless (the duplicator
    /// waits). Default: purge for das and hedged, lossless for clone-prio.
    #[arg(long, value_name = "POLICY")]
    dup_policy: Option<DuplicatePolicy>,

    /// Hedged scheme: a packet gets a duplicate while its primary node's queue holds at
    /// least this many packets.
    #[arg(long, default_value_t = 64, value_name = "N")]
    hedge_depth: usize,

    /// Turn off the duplicator's overload guard (by default DAS and hedged stop sending
    /// a node duplicates while its duplicate queue drops more than half of them).
    #[arg(long)]
    no_guard: bool,

    /// How a node shares its core between its instances: inline (one thread, primaries
    /// first, a small duplicate batch when they are idle) or os (primary thread at
    /// SCHED_FIFO, secondary at SCHED_IDLE).
    #[arg(long, default_value = "inline", value_name = "MODE")]
    sched: SchedMode,

    /// Duplicates an inline node inspects per turn.
    #[arg(long, default_value_t = ids_worker::node::DEFAULT_DUPLICATE_BATCH, value_name = "N")]
    dup_batch: usize,

    /// With active purge (duplicate policy purge, the default of das and hedged): nodes
    /// also purge late primaries, whose duplicate was delivered first, while their
    /// primary queue is backlogged (a receive burst fills a whole batch). A straggler
    /// then spends its cycles on jobs nobody delivered yet; its primary instance no
    /// longer sees every packet of its flows.
    #[arg(long)]
    purge_primaries: bool,

    /// No rescue queues. By default, with low-priority duplicates (das, hedged) and
    /// --primary-overflow drop-tail, a duplicate whose primary finds its node's queue 0
    /// full goes to a third queue of the secondary node, which its secondary instance
    /// serves before other duplicates: nobody else will inspect that packet.
    #[arg(long)]
    no_rescue: bool,

    #[command(flatten)]
    function: FunctionArgs,

    /// Write the cluster's alerts (one per job and rule) in Snort's alert_fast format.
    #[arg(long, value_name = "FILE")]
    alert_fast: Option<PathBuf>,

    /// Write the cluster's alerts (one per job and rule) in Snort's alert_json format.
    #[arg(long, value_name = "FILE")]
    alert_json: Option<PathBuf>,

    /// Give each node this fraction of a core (e.g. 0.4) with its own cgroup, so that
    /// nodes sharing a core stay independent (cgroup v1 cpu controller, root).
    #[arg(long, value_name = "F", value_parser = spec::fraction)]
    node_capacity: Option<f64>,

    /// A CPU-hungry background task on a node's core: NODE:START:DURATION:INTENSITY,
    /// e.g. 0:1s:3s:0.5 takes half of node 0's CPU from 1 s to 4 s. Repeatable.
    #[arg(long, value_name = "SPEC", value_parser = spec::straggler)]
    straggler: Vec<Straggler>,

    /// Pause a node: NODE:START:DURATION, e.g. 1:2s:500ms. Repeatable.
    #[arg(long, value_name = "SPEC", value_parser = spec::pause)]
    pause: Vec<(usize, RunWindow)>,

    /// Kill a node: NODE:AT, e.g. 1:2s (its flows fail over to their duplicates).
    #[arg(long, value_name = "SPEC", value_parser = spec::kill)]
    kill: Vec<(usize, Duration)>,

    /// CPUs to pin nodes to, round robin, e.g. 0,1 (default: every CPU of the process).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        conflicts_with = "no_pin"
    )]
    cores: Vec<usize>,

    /// Do not pin nodes to CPUs.
    #[arg(long)]
    no_pin: bool,

    /// How dedup recognises copies: job-id (the metadata's job ids) or content (the
    /// hash of invariant header fields and payload within --content-window, as a packet
    /// broker does for traffic without metadata).
    #[arg(long, default_value = "job-id", value_name = "MODE", value_parser = ["job-id", "content"])]
    dedup: String,

    /// Content-hash dedup: what the fingerprint covers: invariant (header fields no hop
    /// changes, and the payload, as packet brokers compare) or frame (every byte).
    #[arg(long, default_value = "invariant", value_name = "FIELDS", value_parser = ["invariant", "frame"])]
    content_fields: String,

    /// Content-hash dedup: how long a packet's fingerprint is remembered.
    #[arg(long, default_value = "50ms", value_name = "DURATION", value_parser = spec::duration)]
    content_window: Duration,

    /// Write the UPP/sec timeline as CSV (seconds, unique packets per second).
    #[arg(long, value_name = "FILE")]
    timeline_csv: Option<PathBuf>,

    /// Write the run's counters as Prometheus text metrics (node-exporter textfile
    /// format).
    #[arg(long, value_name = "FILE")]
    prometheus: Option<PathBuf>,

    /// Interval of the UPP/sec timeline in the JSON report, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    upp_interval_ms: u64,

    /// Print only the summary (no progress).
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `das run`.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let source = match args.capture.replay(args.pace)? {
        Some((path, replay)) => Source::Pcap { path, replay },
        None => {
            let (description, frames) = args.traffic.frames()?;
            Source::Frames {
                description,
                frames,
            }
        }
    };
    let cores = if args.no_pin {
        Vec::new()
    } else if args.cores.is_empty() {
        spec::all_cpus()
    } else {
        args.cores.clone()
    };
    let planned = args
        .pause
        .iter()
        .map(|p| p.0)
        .chain(args.kill.iter().map(|k| k.0));
    let mut faults = vec![NodeFaults::default(); planned.max().map_or(0, |n| n + 1)];
    for &(node, window) in &args.pause {
        faults[node].pauses.push(window);
    }
    for &(node, at) in &args.kill {
        faults[node].kill_at = Some(at);
    }
    if args.function.nf != FunctionSpec::Ids
        && (!args.function.rules.is_empty()
            || args.alert_fast.is_some()
            || args.alert_json.is_some())
    {
        bail!("--rules, --alert-fast and --alert-json need --nf ids");
    }
    let (function, ids) = args.function.load()?;
    let config = PipelineConfig {
        source,
        nodes: args.nodes,
        duplicators: args.duplicators,
        scheme: args.scheme,
        batch: args.batch,
        queue_capacity: args.queue_size,
        duplicate_capacity: args.dup_queue_size,
        window: args.window,
        cores,
        primary_overflow: args.primary_overflow,
        duplicate_policy: args.dup_policy.unwrap_or(match args.scheme {
            Scheme::Das | Scheme::Hedged => DuplicatePolicy::Purge,
            Scheme::ClonePrio => DuplicatePolicy::Lossless,
            Scheme::Single | Scheme::Clone => DuplicatePolicy::DropOldest,
        }),
        hedge_depth: args.hedge_depth,
        guard: !args.no_guard,
        mode: args.sched,
        duplicate_batch: args.dup_batch,
        purge_primaries: args.purge_primaries,
        rescue: !args.no_rescue,
        capacity: args.node_capacity,
        faults,
        stragglers: args.straggler.clone(),
        function,
        output: args.out.clone(),
        upp_interval: Duration::from_millis(args.upp_interval_ms.max(1)),
        content_dedup: (args.dedup == "content").then(|| ContentConfig {
            window: args.content_window,
            fingerprint: if args.content_fields == "frame" {
                Fingerprint::Frame
            } else {
                Fingerprint::Invariant
            },
            ..ContentConfig::default()
        }),
    };
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .expect("static template"),
    );
    let report = pipeline::run(config, Duration::from_millis(50), |packets_in, unique| {
        bar.set_message(format!(
            "{} packets in, {} unique out",
            report::count(packets_in),
            report::count(unique)
        ));
        bar.tick();
    })?;
    bar.finish_and_clear();
    for node in &report.node_reports {
        for w in node.threads.iter().flat_map(|t| &t.warnings) {
            eprintln!("das: warning: node {}: {w}", node.id);
        }
    }
    for st in &report.stragglers {
        for w in &st.warnings {
            eprintln!("das: warning: straggler on node {}: {w}", st.straggler.node);
        }
    }
    let checks = report::accounting(&report);
    print!("{}", report::summary(&report, &checks));
    let cluster_alerts = match &ids {
        Some((rules, sink)) => {
            let (raised, dropped) = sink.take();
            let found = ClusterAlerts::build(raised, dropped, &rules.detector);
            print!("{}", report::alerts_summary(rules, &found.summary));
            if let Some(path) = &args.alert_fast {
                found.write(&rules.detector, path, false)?;
            }
            if let Some(path) = &args.alert_json {
                found.write(&rules.detector, path, true)?;
            }
            Some(found.summary)
        }
        None => None,
    };
    if let Some(path) = &args.timeline_csv {
        std::fs::write(path, report::timeline_csv(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.prometheus {
        std::fs::write(path, report::prometheus(&report, &checks))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let doc =
            serde_json::json!({ "report": report, "accounting": checks, "alerts": cluster_alerts });
        let text = serde_json::to_string_pretty(&doc).context("serialising the report")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_overflow(text: &str) -> Result<Overflow, String> {
    match text {
        "backpressure" => Ok(Overflow::Backpressure),
        "drop-tail" => Ok(Overflow::DropTail),
        _ => Err(format!("{text:?}: expected backpressure or drop-tail")),
    }
}
