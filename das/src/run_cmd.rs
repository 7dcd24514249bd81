//! `das run`: the one-process pipeline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use dataplane::pcap::{Pace, ReplayConfig};
use duplicator::Scheme;
use ids_worker::PriorityMode;

use crate::gen_cmd::TrafficArgs;
use crate::pipeline::{self, PipelineConfig, Source};
use crate::report;

/// Options of `das run`.
#[derive(Debug, Args)]
#[command(after_help = "\
Output: a summary of every stage (packets in, jobs and copies at the duplicator, what \
each node inspected and dropped, unique packets out, drops by reason, UPP/sec, latency) \
and an accounting line that checks received = forwarded + dropped at every stage. The \
exit status is 0 when every check holds, 1 when one fails, 2 on an error.")]
pub struct RunArgs {
    /// Replay this capture (pcap or pcapng, Ethernet) instead of generated traffic.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,

    /// Replay the capture this many times.
    #[arg(long, default_value_t = 1, value_name = "K", requires = "pcap")]
    loops: u64,

    /// Replay pace: max (as fast as the pipeline takes), <N>pps, <N>mbps (megabits of
    /// frame bytes per second), capture (the capture's own timing) or capture*<SPEED>.
    #[arg(long, default_value = "max", value_name = "PACE", requires = "pcap")]
    pace: Pace,

    #[command(flatten)]
    traffic: TrafficArgs,

    /// Number of IDS nodes.
    #[arg(long, default_value_t = 2, value_name = "N")]
    nodes: usize,

    /// Duplication scheme: single (no duplicates), clone (duplicate at equal priority),
    /// das (duplicate at low priority, bounded queue).
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

    /// Run both instances of a node at normal priority (default: secondary at SCHED_IDLE).
    #[arg(long)]
    equal_priority: bool,

    /// Interval of the UPP/sec timeline in the JSON report, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    upp_interval_ms: u64,

    /// Print only the summary (no progress).
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `das run`.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    if args.loops == 0 {
        bail!("--loops must be at least 1");
    }
    let source = match &args.pcap {
        Some(path) => {
            args.pace.validate().context("--pace")?;
            Source::Pcap {
                path: path.clone(),
                replay: ReplayConfig::default()
                    .with_pace(args.pace)
                    .with_loops(args.loops),
            }
        }
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
        core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        args.cores.clone()
    };
    let config = PipelineConfig {
        source,
        nodes: args.nodes,
        scheme: args.scheme,
        batch: args.batch,
        queue_capacity: args.queue_size,
        duplicate_capacity: args.dup_queue_size,
        window: args.window,
        cores,
        priorities: if args.equal_priority {
            PriorityMode::Equal
        } else {
            PriorityMode::Split
        },
        output: args.out.clone(),
        upp_interval: Duration::from_millis(args.upp_interval_ms.max(1)),
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
        for w in node.primary.warnings.iter().chain(&node.secondary.warnings) {
            eprintln!("das: warning: node {}: {w}", node.id);
        }
    }
    let checks = report::accounting(&report);
    print!("{}", report::summary(&report, &checks));
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "report": report, "accounting": checks });
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
