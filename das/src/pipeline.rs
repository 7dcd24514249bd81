//! The one-process pipeline: traffic source → duplicator → N IDS nodes → dedup → output,
//! every stage a thread, every link an in-memory ring port.
//!
//! This module only wires stages to ports and threads; the stages live in their crates.

use std::path::PathBuf;
use std::time::Duration;

use crate::alerts::{AlertSink, InstanceId, LoadedRules, RuleSource, SinkingIds, load_rules};
use crate::ids_cmd::MatcherArg;
use crate::spec::FunctionSpec;
use anyhow::{Context, Result, bail};
use dataplane::completion::{CompletionCounters, completion_channels};
use dataplane::forward::{ForwardReport, spawn_spread};
use dataplane::health::NodeHealth;
use dataplane::memory::{FramesPort, FramesReplay, IterPort, TimedFrame};
use dataplane::null::NullPort;
use dataplane::pcap::{PcapPort, PcapWriterPort, ReplayConfig};
use dataplane::port::{Port, PortStats};
use dataplane::ring::{Overflow, RingPort, RingQueueConfig};
use dataplane::{BufPool, buf::PoolStats};
use dedup::{ContentConfig, Dedup, DedupConfig, DedupIo, DedupReport};
use duplicator::{Duplicator, DuplicatorConfig, DuplicatorReport, GuardConfig, NodeOutput, Scheme};
use ids_worker::capacity::NodeCgroup;
use ids_worker::engine::Detector;
use ids_worker::{
    DuplicatePolicy, Forwarder, NetworkFunction, NodeConfig, NodeFaults, NodeIo, NodeReport,
    SchedMode, Spin, Straggler, StragglerReport,
};
use std::sync::Arc;

/// Completion notices a node's channel holds before dedup drops new ones.
const NOTICE_CAPACITY: usize = 1 << 16;

/// Where the traffic comes from.
pub enum Source {
    /// A capture file, replayed as configured.
    Pcap {
        /// The file (pcap or pcapng).
        path: PathBuf,
        /// Pace and loops.
        replay: ReplayConfig,
    },
    /// Frames held in memory, replayed paced and looped (an experiment's traffic).
    Memory {
        /// What the frames are, for the report.
        description: String,
        /// The frames.
        frames: Arc<[TimedFrame]>,
        /// Pace, packet count, distinct loops.
        replay: FramesReplay,
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
    Memory(FramesPort),
}

impl SourcePort {
    fn port(&mut self) -> &mut dyn Port {
        match self {
            SourcePort::Replay(p) => p,
            SourcePort::Frames(p) => p,
            SourcePort::Memory(p) => p,
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
            SourcePort::Frames(_) | SourcePort::Memory(_) => Vec::new(),
        }
    }
}

/// The network function every node instance runs.
#[derive(Debug, Clone)]
pub enum FunctionChoice {
    /// Forward everything (no cost).
    Forward,
    /// Spin this long per packet, then forward (a fixed, known cost).
    Spin(Duration),
    /// The IDS engine with these rules; every instance hands its alerts to the sink.
    Ids(Arc<Detector>, AlertSink),
}

/// The nodes' network function as `das run` and `das worker` take it.
#[derive(Debug, clap::Args)]
pub struct FunctionArgs {
    /// The nodes' network function: ids (the IDS engine with --rules), forward (no
    /// cost) or spin:COST (a fixed CPU cost per packet, e.g. spin:2us).
    #[arg(long, default_value = "ids", value_name = "FUNCTION", value_parser = crate::spec::function)]
    pub nf: FunctionSpec,

    /// Rule files for --nf ids (Snort 3 or 2.9 syntax; `.lua` files give event
    /// filters). Default: the project's own rules (rules/das.rules, built in).
    #[arg(long = "rules", value_name = "FILE", num_args = 1..)]
    pub rules: Vec<PathBuf>,

    /// The IDS prefilter's pattern matcher.
    #[arg(long, value_enum, default_value_t = MatcherArg::Anchor)]
    pub matcher: MatcherArg,
}

impl FunctionArgs {
    /// The function; for the IDS engine, loads the rules (the built-in ones when none
    /// are named) and also returns them with the sink the instances' alerts go to.
    pub fn load(&self) -> Result<(FunctionChoice, Option<(LoadedRules, AlertSink)>)> {
        Ok(match self.nf {
            FunctionSpec::Forward => (FunctionChoice::Forward, None),
            FunctionSpec::Spin(cost) => (FunctionChoice::Spin(cost), None),
            FunctionSpec::Ids => {
                let source = if self.rules.is_empty() {
                    RuleSource::Embedded
                } else {
                    RuleSource::Files(self.rules.clone())
                };
                let loaded = load_rules(&source, self.matcher.backend())?;
                let sink = AlertSink::default();
                (
                    FunctionChoice::Ids(loaded.detector.clone(), sink.clone()),
                    Some((loaded, sink)),
                )
            }
        })
    }
}

impl FunctionChoice {
    /// The network function of node `node`'s primary or secondary instance.
    pub fn make(&self, node: usize, primary: bool) -> Box<dyn NetworkFunction> {
        match self {
            FunctionChoice::Forward => Box::new(Forwarder::default()),
            FunctionChoice::Spin(cost) => Box::new(Spin::new(*cost, 0.0)),
            FunctionChoice::Ids(detector, sink) => Box::new(SinkingIds::new(
                detector.clone(),
                InstanceId { node, primary },
                sink.clone(),
            )),
        }
    }
}

/// Settings of one pipeline run.
pub struct PipelineConfig {
    /// The traffic.
    pub source: Source,
    /// Number of IDS nodes.
    pub nodes: usize,
    /// Duplicator cores (the source spreads flows over them by their symmetric hash).
    pub duplicators: usize,
    /// Duplication scheme.
    pub scheme: Scheme,
    /// Packets per batch everywhere.
    pub batch: usize,
    /// Capacity of the source link, of each node's queue 0 and of the node outputs.
    pub queue_capacity: usize,
    /// What a full node queue 0 does: backpressure (lossless, default) or drop-tail (as
    /// a NIC's receive ring: primaries a busy node cannot take are dropped and counted).
    pub primary_overflow: Overflow,
    /// Capacity of each node's duplicate queue (queue 1).
    pub duplicate_capacity: usize,
    /// What a node's duplicate queue does when full, and whether dedup purges.
    pub duplicate_policy: DuplicatePolicy,
    /// With active purge: nodes also purge late primaries, those whose duplicate was
    /// delivered first.
    pub purge_primaries: bool,
    /// Rescue queues (DAS and hedged with drop-tail primary queues): a duplicate whose
    /// primary finds its node's queue 0 full goes to a third queue of its node, which
    /// the secondary instance serves before other duplicates.
    pub rescue: bool,
    /// Hedged scheme: duplicate while the primary node's queue holds this many packets.
    pub hedge_depth: usize,
    /// Whether the duplicator's overload guard runs (DAS and hedged).
    pub guard: bool,
    /// Dedup window, in job ids.
    pub window: usize,
    /// CPUs the nodes are pinned to, round robin (empty: no pinning).
    pub cores: Vec<usize>,
    /// How each node shares its core between its instances.
    pub mode: SchedMode,
    /// Duplicates an `inline` node inspects per turn.
    pub duplicate_batch: usize,
    /// Fraction of a core each node gets from its own cgroup (none: no limit).
    pub capacity: Option<f64>,
    /// Faults per node (missing entries: none).
    pub faults: Vec<NodeFaults>,
    /// Stragglers.
    pub stragglers: Vec<Straggler>,
    /// The nodes' network function.
    pub function: FunctionChoice,
    /// Where unique packets are written (none: counted and freed).
    pub output: Option<PathBuf>,
    /// Interval of the UPP/sec timeline.
    pub upp_interval: Duration,
    /// Content-hash deduplication instead of job ids.
    pub content_dedup: Option<ContentConfig>,
}

/// Counters of one ring link.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkReport {
    /// Port counters, one entry per queue.
    pub port: PortStats,
    /// The queue policies, in queue order.
    pub overflow: Vec<Overflow>,
}

/// Counters of one node's completion-notice channel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeReport {
    /// Node index.
    pub node: usize,
    /// Notices dedup put in the channel.
    pub sent: u64,
    /// Notices dropped because the channel was full.
    pub dropped: u64,
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
    /// Node scheduling mode.
    pub mode: SchedMode,
    /// Duplicate-queue policy.
    pub duplicate_policy: DuplicatePolicy,
    /// Whether nodes purged late primaries too.
    pub purge_primaries: bool,
    /// Whether node queue 0 is lossless.
    pub primary_overflow: Overflow,
    /// Whether dedup recognised copies by content hash rather than job id.
    pub content_dedup: bool,
    /// Wall-clock seconds from the first thread's start until dedup, the last stage,
    /// finished.
    pub elapsed_secs: f64,
    /// What the source delivered.
    pub source_forward: ForwardReport,
    /// What the source delivered to each duplicator core.
    pub source_split: Vec<ForwardReport>,
    /// The source port's counters.
    pub source_port: PortStats,
    /// Problems the source met that did not stop the run (a capture cut short).
    pub source_warnings: Vec<String>,
    /// The duplicator cores added up.
    pub duplicator: DuplicatorReport,
    /// Each duplicator core.
    pub duplicators: Vec<DuplicatorReport>,
    /// Each node.
    pub node_reports: Vec<NodeReport>,
    /// Each straggler.
    pub stragglers: Vec<StragglerReport>,
    /// Dedup.
    pub dedup: DedupReport,
    /// Completion notices per node (active purge only).
    pub notices: Vec<NoticeReport>,
    /// Source to each duplicator core.
    pub ingress: Vec<LinkReport>,
    /// Duplicator core d to node i, as `to_nodes[d][i]`.
    pub to_nodes: Vec<Vec<LinkReport>>,
    /// Node i to dedup.
    pub from_nodes: Vec<LinkReport>,
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
    if !(1..=255).contains(&config.duplicators) {
        bail!("--duplicators must be between 1 and 255");
    }
    dataplane::Batch::with_capacity(config.batch).context("--batch")?;
    if let Some(s) = config.stragglers.iter().find(|s| s.node >= config.nodes) {
        bail!(
            "a straggler targets node {}, but there are {} nodes",
            s.node,
            config.nodes
        );
    }
    if config.faults.len() > config.nodes {
        bail!(
            "faults are planned for node {}, but there are {} nodes",
            config.faults.len() - 1,
            config.nodes
        );
    }
    let pool = BufPool::default();
    let lossless = RingQueueConfig::new(config.queue_capacity, Overflow::Backpressure);
    let primary_queue = RingQueueConfig::new(config.queue_capacity, config.primary_overflow);
    let duplicate_overflow = match config.duplicate_policy {
        DuplicatePolicy::DropTail => Overflow::DropTail,
        DuplicatePolicy::DropOldest | DuplicatePolicy::Purge => Overflow::DropOldest,
        DuplicatePolicy::Lossless => Overflow::Backpressure,
    };
    let duplicate_queue = RingQueueConfig::new(config.duplicate_capacity, duplicate_overflow);
    let purge = config.duplicate_policy == DuplicatePolicy::Purge;
    // A full queue 0 refuses primaries only when drop-tail: with backpressure the
    // duplicator waits and the primary gets in.
    let rescue = config.rescue
        && config.primary_overflow == Overflow::DropTail
        && config.scheme.duplicate_priority() == Some(dataplane::meta::Priority::Low);
    let node_queues: &[RingQueueConfig] = if rescue {
        &[primary_queue, duplicate_queue, duplicate_queue]
    } else {
        &[primary_queue, duplicate_queue]
    };
    if config.purge_primaries && !(purge && config.content_dedup.is_none()) {
        bail!(
            "purging late primaries needs active purge (duplicate policy purge) and \
             job-id deduplication"
        );
    }

    let cgroups = match config.capacity {
        Some(fraction) => (0..config.nodes)
            .map(|i| {
                NodeCgroup::create(i, fraction, config.mode == SchedMode::Os)
                    .map(|c| Some(Arc::new(c)))
            })
            .collect::<Result<Vec<_>, _>>()
            .context("--node-capacity")?,
        None => vec![None; config.nodes],
    };

    let (mut source_port, source_desc) = match config.source {
        Source::Pcap { path, replay } => {
            let port = PcapPort::open("source", &path, replay)
                .with_context(|| format!("cannot replay {}", path.display()))?;
            (SourcePort::Replay(port), path.display().to_string())
        }
        Source::Memory {
            description,
            frames,
            replay,
        } => (
            SourcePort::Memory(FramesPort::new("source", frames, replay)?),
            description,
        ),
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

    let cores = config.duplicators.max(1);
    let mut ingress: Vec<RingPort> = (0..cores)
        .map(|d| RingPort::new(&format!("source->duplicator{d}"), &[lossless]))
        .collect::<Result<_, _>>()?;
    // to_nodes[d][i]: duplicator core d to node i (queue 0 primaries, queue 1 duplicates,
    // queue 2 rescue duplicates).
    let mut to_nodes: Vec<Vec<RingPort>> = (0..cores)
        .map(|d| {
            (0..config.nodes)
                .map(|i| RingPort::new(&format!("duplicator{d}->node{i}"), node_queues))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let mut from_nodes = Vec::new();
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    let mut notice_counters: Vec<Arc<CompletionCounters>> = Vec::new();
    for i in 0..config.nodes {
        from_nodes.push(RingPort::new(
            &format!("node{i}->dedup"),
            &[lossless, lossless],
        )?);
        if purge {
            // One receiver per purging instance of the node.
            let instances = if config.purge_primaries { 2 } else { 1 };
            let (tx, rx) = completion_channels(NOTICE_CAPACITY, instances);
            let mut rx = rx.into_iter();
            notice_counters.push(tx.counters());
            senders.push(Some(tx));
            receivers.push((rx.next(), rx.next()));
        } else {
            senders.push(None);
            receivers.push((None, None));
        }
    }
    let health = NodeHealth::new(config.nodes);

    let started_ns = dataplane::clock::now_ns();
    let origin_ns = dataplane::clock::monotonic_ns();
    let source = spawn_spread(
        "source",
        source_port.port().take_rx_queue(0)?,
        ingress
            .iter_mut()
            .map(|p| p.take_tx_queue(0))
            .collect::<Result<_, _>>()?,
        pool.clone(),
        config.batch,
    )?;

    let mut duplicators = Vec::new();
    let mut dup_counters = Vec::new();
    for (d, (links, ingress)) in to_nodes.iter_mut().zip(&mut ingress).enumerate() {
        let outputs = links
            .iter_mut()
            .map(|p| {
                Ok(NodeOutput {
                    primary: p.take_tx_queue(0)?,
                    duplicate: p.take_tx_queue(1)?,
                    rescue: rescue
                        .then(|| p.take_tx_queue(duplicator::RESCUE_QUEUE))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let duplicator = Duplicator::new(
            DuplicatorConfig {
                batch: config.batch,
                hedge_depth: config.hedge_depth,
                guard: config.guard.then(GuardConfig::default),
                ..DuplicatorConfig::new(d as u8, config.nodes, config.scheme)
            },
            outputs,
        )?
        .with_health(health.clone());
        dup_counters.push(duplicator.counters());
        duplicators.push(duplicator::spawn(
            duplicator,
            ingress.take_rx_queue(0)?,
            pool.clone(),
            config.batch,
        )?);
    }

    let mut nodes = Vec::new();
    let core_of =
        |i: usize| (!config.cores.is_empty()).then(|| config.cores[i % config.cores.len()]);
    for (i, (notices, primary_notices)) in receivers.into_iter().enumerate() {
        let mut rx = |q| {
            to_nodes
                .iter_mut()
                .map(|links| links[i].take_rx_queue(q))
                .collect::<Result<Vec<_>, _>>()
        };
        let io = NodeIo {
            primary_rx: rx(0)?,
            duplicate_rx: rx(1)?,
            rescue_rx: if rescue {
                rx(duplicator::RESCUE_QUEUE)?
            } else {
                Vec::new()
            },
            primary_tx: from_nodes[i].take_tx_queue(0)?,
            duplicate_tx: from_nodes[i].take_tx_queue(1)?,
            notices,
            primary_notices,
            health: health.clone(),
            origin_ns,
            cgroup: cgroups[i].clone(),
        };
        let node_config = NodeConfig {
            batch: config.batch,
            duplicate_batch: config.duplicate_batch.min(config.batch),
            mode: config.mode,
            faults: config.faults.get(i).cloned().unwrap_or_default(),
            ..NodeConfig::new(i, core_of(i))
        };
        nodes.push(ids_worker::spawn_node(
            node_config,
            config.function.make(i, true),
            config.function.make(i, false),
            io,
            &pool,
        )?);
    }
    let straggler_class = config.mode.straggler_class();
    let stragglers = config
        .stragglers
        .iter()
        .map(|&s| {
            ids_worker::spawn_straggler(
                s,
                core_of(s.node),
                straggler_class,
                cgroups[s.node].clone(),
                origin_ns,
            )
        })
        .collect::<std::io::Result<Vec<_>>>()?;

    let mut inputs = Vec::new();
    for link in &mut from_nodes {
        inputs.push(link.take_rx_queue(0)?);
        inputs.push(link.take_rx_queue(1)?);
    }
    let dedup = Dedup::new(DedupConfig {
        window: config.window,
        upp_interval: config.upp_interval,
        notify: purge && config.content_dedup.is_none(),
        content: config.content_dedup,
    })?;
    let dedup = dedup::spawn(
        dedup,
        DedupIo {
            inputs,
            output: output_port.take_tx_queue(0)?,
            notices: senders,
        },
        pool.clone(),
        config.batch,
    )?;

    let dedup_counters = dedup.counters().clone();
    while !dedup.is_finished() {
        std::thread::sleep(tick);
        progress(
            dup_counters.iter().map(|c| c.stage.received.get()).sum(),
            dedup_counters.stage.forwarded.get(),
        );
    }

    // Join everything, then report the first error in pipeline order.
    let source_result = source
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    let duplicator_results: Vec<_> = duplicators.into_iter().map(|d| d.join()).collect();
    let node_results: Vec<_> = nodes.into_iter().map(|n| n.join()).collect();
    let dedup_result = dedup.join();
    let source_split = source_result.context("traffic source")?;
    let duplicators = duplicator_results
        .into_iter()
        .enumerate()
        .map(|(d, r)| r.with_context(|| format!("duplicator {d}")))
        .collect::<Result<Vec<_>>>()?;
    let duplicator = DuplicatorReport::combine(&duplicators).context("no duplicator ran")?;
    let node_reports = node_results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("node {i}")))
        .collect::<Result<Vec<_>>>()?;
    let dedup = dedup_result.context("dedup")?;
    let stragglers = stragglers
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .collect();
    let elapsed_secs = dedup.reported_ns.saturating_sub(started_ns) as f64 / 1e9;

    let link = |port: &RingPort, overflow: Vec<Overflow>| LinkReport {
        port: port.stats(),
        overflow,
    };
    let ingress = ingress
        .iter()
        .map(|p| link(p, vec![lossless.overflow]))
        .collect();
    let to_nodes = to_nodes
        .iter()
        .map(|links| {
            links
                .iter()
                .map(|p| link(p, vec![primary_queue.overflow, duplicate_queue.overflow]))
                .collect()
        })
        .collect();
    let from_nodes = from_nodes
        .iter()
        .map(|p| link(p, vec![lossless.overflow, lossless.overflow]))
        .collect();
    Ok(RunReport {
        source: source_desc,
        scheme: config.scheme,
        nodes: config.nodes,
        batch: config.batch,
        mode: config.mode,
        duplicate_policy: config.duplicate_policy,
        purge_primaries: config.purge_primaries,
        primary_overflow: config.primary_overflow,
        content_dedup: config.content_dedup.is_some(),
        elapsed_secs,
        source_forward: ForwardReport {
            packets: source_split.iter().map(|r| r.packets).sum(),
            bytes: source_split.iter().map(|r| r.bytes).sum(),
        },
        source_split,
        source_port: source_port.port().stats(),
        source_warnings: source_port.warnings(),
        duplicator,
        duplicators,
        node_reports,
        stragglers,
        dedup,
        notices: notice_counters
            .iter()
            .enumerate()
            .map(|(node, c)| NoticeReport {
                node,
                sent: c.sent.get(),
                dropped: c.dropped.get(),
            })
            .collect(),
        ingress,
        to_nodes,
        from_nodes,
        output: output_port.stats(),
        output_path: config.output,
        pool: pool.stats(),
    })
}
