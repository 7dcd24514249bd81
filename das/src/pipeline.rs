//! The one-process pipeline: traffic source → duplicator → N IDS nodes → dedup → output,
//! every stage a thread, every link an in-memory ring port.
//!
//! This module only wires stages to ports and threads; the stages live in their crates.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use dataplane::forward::{ForwardReport, spawn_forward};
use dataplane::memory::{IterPort, TimedFrame};
use dataplane::null::NullPort;
use dataplane::pcap::{PcapPort, PcapWriterPort, ReplayConfig};
use dataplane::port::{Port, PortStats};
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{BufPool, buf::PoolStats};
use dedup::{Dedup, DedupConfig, DedupIo, DedupReport};
use duplicator::{Duplicator, DuplicatorConfig, DuplicatorReport, NodeOutput, Scheme};
use ids_worker::{Forwarder, NodeConfig, NodeQueues, NodeReport, PriorityMode};

/// Where the traffic comes from.
pub enum Source {
    /// A capture file, replayed as configured.
    Pcap {
        /// The file (pcap or pcapng).
        path: PathBuf,
        /// Pace and loops.
        replay: ReplayConfig,
    },
    /// Frames made in memory (the traffic generator).
    Frames {
        /// What the frames are, for the report.
        description: String,
        /// The frames, in order.
        frames: Box<dyn Iterator<Item = TimedFrame> + Send>,
    },
}

/// The source's port, kept to read its counters and report after the run.
enum SourcePort {
    Replay(PcapPort),
    Frames(IterPort),
}

impl SourcePort {
    fn port(&mut self) -> &mut dyn Port {
        match self {
            SourcePort::Replay(p) => p,
            SourcePort::Frames(p) => p,
        }
    }

    fn warnings(&self) -> Vec<String> {
        match self {
            SourcePort::Replay(p) => p
                .report()
                .truncated_tail
                .iter()
                .map(|t| t.to_string())
                .collect(),
            SourcePort::Frames(_) => Vec::new(),
        }
    }
}

/// Settings of one pipeline run.
pub struct PipelineConfig {
    /// The traffic.
    pub source: Source,
    /// Number of IDS nodes.
    pub nodes: usize,
    /// Duplication scheme.
    pub scheme: Scheme,
    /// Packets per batch everywhere.
    pub batch: usize,
    /// Capacity of every lossless queue (source link, node queue 0, node outputs).
    pub queue_capacity: usize,
    /// Capacity of each node's duplicate queue (queue 1, drop-oldest).
    pub duplicate_capacity: usize,
    /// Dedup window, in job ids.
    pub window: usize,
    /// CPUs the nodes are pinned to, round robin (empty: no pinning).
    pub cores: Vec<usize>,
    /// OS priorities of each node's instances.
    pub priorities: PriorityMode,
    /// Where unique packets are written (none: counted and freed).
    pub output: Option<PathBuf>,
    /// Interval of the UPP/sec timeline.
    pub upp_interval: Duration,
}

/// Counters of one ring link.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkReport {
    /// Port counters, one entry per queue.
    pub port: PortStats,
    /// The queue policies, in queue order.
    pub overflow: Vec<Overflow>,
}

/// Everything one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// The traffic, in words.
    pub source: String,
    /// Scheme.
    pub scheme: Scheme,
    /// Number of nodes.
    pub nodes: usize,
    /// Packets per batch.
    pub batch: usize,
    /// Wall-clock seconds from the first thread's start until dedup, the last stage,
    /// finished.
    pub elapsed_secs: f64,
    /// What the source delivered, and its port counters (drops of unusable records).
    pub source_forward: ForwardReport,
    /// The source port's counters.
    pub source_port: PortStats,
    /// Problems the source met that did not stop the run (a capture cut short).
    pub source_warnings: Vec<String>,
    /// The duplicator.
    pub duplicator: DuplicatorReport,
    /// Each node.
    pub node_reports: Vec<NodeReport>,
    /// Dedup.
    pub dedup: DedupReport,
    /// The links: source→duplicator, duplicator→node i, node i→dedup.
    pub links: Vec<LinkReport>,
    /// The output port.
    pub output: PortStats,
    /// Where unique packets were written.
    pub output_path: Option<PathBuf>,
    /// Buffer-pool counters.
    pub pool: PoolStats,
}

/// Runs the pipeline to completion (until the source ends and every queue drained).
/// `progress` is called about every `tick` with (packets in so far, unique out so far).
pub fn run(
    config: PipelineConfig,
    tick: Duration,
    mut progress: impl FnMut(u64, u64),
) -> Result<RunReport> {
    if config.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    dataplane::Batch::with_capacity(config.batch).context("--batch")?;
    let pool = BufPool::default();
    let lossless = RingQueueConfig::new(config.queue_capacity, Overflow::Backpressure);
    let bounded = RingQueueConfig::new(config.duplicate_capacity, Overflow::DropOldest);

    let (mut source_port, source_desc) = match config.source {
        Source::Pcap { path, replay } => {
            let port = PcapPort::open("source", &path, replay)
                .with_context(|| format!("cannot replay {}", path.display()))?;
            (SourcePort::Replay(port), path.display().to_string())
        }
        Source::Frames {
            description,
            frames,
        } => (
            SourcePort::Frames(IterPort::new("source", frames)),
            description,
        ),
    };
    let mut output_port: Box<dyn Port> = match &config.output {
        Some(path) => Box::new(
            PcapWriterPort::create("output", path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(NullPort::new("output", 1)),
    };

    let mut ingress = RingPort::new("source->duplicator", &[lossless])?;
    let mut to_nodes = Vec::new();
    let mut from_nodes = Vec::new();
    for i in 0..config.nodes {
        to_nodes.push(RingPort::new(
            &format!("duplicator->node{i}"),
            &[lossless, bounded],
        )?);
        from_nodes.push(RingPort::new(
            &format!("node{i}->dedup"),
            &[lossless, lossless],
        )?);
    }

    let started_ns = dataplane::clock::now_ns();
    let source = spawn_forward(
        "source",
        source_port.port().take_rx_queue(0)?,
        ingress.take_tx_queue(0)?,
        pool.clone(),
        config.batch,
    )?;

    let outputs = to_nodes
        .iter_mut()
        .map(|p| {
            Ok(NodeOutput {
                primary: p.take_tx_queue(0)?,
                duplicate: p.take_tx_queue(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let duplicator = Duplicator::new(
        DuplicatorConfig {
            id: 0,
            nodes: config.nodes,
            scheme: config.scheme,
            batch: config.batch,
        },
        outputs,
    )?;
    let dup_counters = duplicator.counters();
    let duplicator = duplicator::spawn(
        duplicator,
        ingress.take_rx_queue(0)?,
        pool.clone(),
        config.batch,
    )?;

    let mut nodes = Vec::new();
    for i in 0..config.nodes {
        let queues = NodeQueues {
            primary_rx: to_nodes[i].take_rx_queue(0)?,
            duplicate_rx: to_nodes[i].take_rx_queue(1)?,
            primary_tx: from_nodes[i].take_tx_queue(0)?,
            duplicate_tx: from_nodes[i].take_tx_queue(1)?,
        };
        let core = (!config.cores.is_empty()).then(|| config.cores[i % config.cores.len()]);
        let node_config = NodeConfig {
            id: i,
            core,
            batch: config.batch,
            priorities: config.priorities,
        };
        nodes.push(ids_worker::spawn_node(
            node_config,
            Forwarder::default(),
            Forwarder::default(),
            queues,
            &pool,
        )?);
    }

    let mut inputs = Vec::new();
    for link in &mut from_nodes {
        inputs.push(link.take_rx_queue(0)?);
        inputs.push(link.take_rx_queue(1)?);
    }
    let dedup = Dedup::new(DedupConfig {
        window: config.window,
        upp_interval: config.upp_interval,
    })?;
    let dedup = dedup::spawn(
        dedup,
        DedupIo {
            inputs,
            output: output_port.take_tx_queue(0)?,
        },
        pool.clone(),
        config.batch,
    )?;

    let dedup_counters = dedup.counters().clone();
    while !dedup.is_finished() {
        std::thread::sleep(tick);
        progress(
            dup_counters.stage.received.get(),
            dedup_counters.stage.forwarded.get(),
        );
    }

    // Join everything, then report the first error in pipeline order.
    let source_result = source
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    let duplicator_result = duplicator.join();
    let node_results: Vec<_> = nodes.into_iter().map(|n| n.join()).collect();
    let dedup_result = dedup.join();
    let source_forward = source_result.context("traffic source")?;
    let duplicator = duplicator_result.context("duplicator")?;
    let node_reports = node_results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("node {i}")))
        .collect::<Result<Vec<_>>>()?;
    let dedup = dedup_result.context("dedup")?;
    let elapsed_secs = dedup.reported_ns.saturating_sub(started_ns) as f64 / 1e9;

    let mut links = vec![LinkReport {
        port: ingress.stats(),
        overflow: vec![lossless.overflow],
    }];
    for (to, from) in to_nodes.iter().zip(&from_nodes) {
        links.push(LinkReport {
            port: to.stats(),
            overflow: vec![lossless.overflow, bounded.overflow],
        });
        links.push(LinkReport {
            port: from.stats(),
            overflow: vec![lossless.overflow, lossless.overflow],
        });
    }
    Ok(RunReport {
        source: source_desc,
        scheme: config.scheme,
        nodes: config.nodes,
        batch: config.batch,
        elapsed_secs,
        source_forward,
        source_port: source_port.port().stats(),
        source_warnings: source_port.warnings(),
        duplicator,
        node_reports,
        dedup,
        links,
        output: output_port.stats(),
        output_path: config.output,
        pool: pool.stats(),
    })
}
