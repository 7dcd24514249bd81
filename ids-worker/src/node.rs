//! An IDS node: a primary and a secondary instance of a network function on one core.
//!
//! Queue 0 carries primaries, served by the primary instance; queue 1 carries
//! duplicates, served by the secondary instance, which must only use the cycles the
//! primary leaves idle. Two scheduling modes do that ([`SchedMode`]):
//!
//! - `os`: two threads pinned to the node's core, the primary at SCHED_FIFO and the
//!   secondary at SCHED_IDLE. The primary sleeps on its doorbell when it has no work and
//!   is woken when work arrives; while it runs the secondary gets nothing.
//! - `inline`: one pinned thread that serves primaries first and runs at most one small
//!   duplicate batch when the primary queue is empty (preemption at batch granularity).
//!
//! The duplicate queue's bound and overflow policy belong to the port feeding queue 1;
//! with active purge, completion notices from dedup name delivered jobs and their
//! duplicates are removed before inspection (counted as `purged`); a node given notices
//! for its primary instance too also removes late primaries, those whose duplicate was
//! delivered first, while that instance is backlogged (a receive burst fills a whole
//! batch). A straggler then spends its cycles on jobs nobody delivered yet, at the cost
//! of holes in its instance's view of those flows; with a short queue it inspects every
//! primary. Faults (pause, kill)
//! and a per-node CPU capacity (cgroup) are applied here; stragglers run beside the node
//! ([`crate::fault`]).

use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::clock::{monotonic_ns, now_ns};
use dataplane::completion::CompletionReceiver;
use dataplane::counters::{DropReason, StageCounters, StageSnapshot};
use dataplane::health::NodeHealth;
use dataplane::latency::LatencyReport;
use dataplane::meta::JobFrame;
use dataplane::port::{QueueStats, send_all};
use dataplane::rxset::RxSet;
use dataplane::{
    Batch, BufCache, BufPool, Doorbell, Idler, PortError, RxOutcome, RxQueue, TxQueue,
};

use crate::capacity::NodeCgroup;
use crate::fault::{FaultState, NodeFaults, sleep_until};
use crate::metrics::{InstanceMetrics, InstanceMetricsReport, thread_cpu_secs};
use crate::nf::{NetworkFunction, Verdict};
use crate::placement::{self, Placement, SchedClass};
use crate::purge::PurgeSet;

/// How a node shares its core between its two instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedMode {
    /// Two threads at split OS priorities (SCHED_FIFO and SCHED_IDLE).
    Os,
    /// One thread, primaries first, one small duplicate batch when they are idle.
    #[default]
    Inline,
}

impl SchedMode {
    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SchedMode::Os => "os",
            SchedMode::Inline => "inline",
        }
    }

    /// The class a straggler on a node of this mode runs in, so that it takes CPU from
    /// the node's instances: above the primary's SCHED_FIFO priority in `os` mode, boosted
    /// above the one normal-priority thread in `inline` mode.
    pub fn straggler_class(self) -> SchedClass {
        match self {
            SchedMode::Os => SchedClass::Fifo(PRIMARY_FIFO_PRIORITY + 1),
            SchedMode::Inline => SchedClass::Boosted,
        }
    }
}

impl std::str::FromStr for SchedMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "os" => Ok(SchedMode::Os),
            "inline" => Ok(SchedMode::Inline),
            _ => Err(format!(
                "unknown scheduling mode {s:?}: expected os or inline"
            )),
        }
    }
}

/// SCHED_FIFO priority of a primary instance in `os` mode.
pub const PRIMARY_FIFO_PRIORITY: u8 = 10;

/// How long an `os`-mode primary spins before it sleeps, by default.
pub const DEFAULT_PRIMARY_SPIN: Duration = Duration::from_micros(50);

/// Duplicates an `inline` node inspects per turn, by default.
pub const DEFAULT_DUPLICATE_BATCH: usize = 8;

/// A node's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// Node index (for names and reports).
    pub id: usize,
    /// The CPU the node's threads are pinned to, if any.
    pub core: Option<usize>,
    /// Packets per batch.
    pub batch: usize,
    /// Duplicates per turn in `inline` mode (at most `batch`).
    pub duplicate_batch: usize,
    /// How the two instances share the core.
    pub mode: SchedMode,
    /// Planned faults.
    pub faults: NodeFaults,
    /// Job ids remembered per duplicator for active purge.
    pub purge_window: usize,
    /// Interval between queue-depth samples (zero: none).
    pub depth_interval: Duration,
    /// In `os` mode, how long the primary thread spins after its queue empties before
    /// it sleeps: bursts that follow closer than this cost no wake-up, and the
    /// secondary gets the core only after that much idleness.
    pub primary_spin: Duration,
}

impl NodeConfig {
    /// A node with the defaults: `inline`, batches of 32, 8 duplicates per turn, no
    /// faults, a 2^16 purge window, depth sampled every 10 ms, an `os`-mode primary
    /// spinning 50 us before it sleeps.
    pub fn new(id: usize, core: Option<usize>) -> Self {
        NodeConfig {
            id,
            core,
            batch: dataplane::DEFAULT_BATCH,
            duplicate_batch: DEFAULT_DUPLICATE_BATCH,
            mode: SchedMode::default(),
            faults: NodeFaults::default(),
            purge_window: 1 << 16,
            depth_interval: Duration::from_millis(10),
            primary_spin: DEFAULT_PRIMARY_SPIN,
        }
    }
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Bad settings.
    #[error("node {node}: {reason}")]
    Config {
        /// Node index.
        node: usize,
        /// What is wrong.
        reason: String,
    },
    /// A thread could not be started.
    #[error("node {node}: cannot start a thread: {source}")]
    Spawn {
        /// Node index.
        node: usize,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What a node is connected to.
pub struct NodeIo {
    /// Primaries in (queue 0: one queue per duplicator feeding the node).
    pub primary_rx: Vec<Box<dyn RxQueue>>,
    /// Duplicates in (queue 1: one queue per duplicator feeding the node).
    pub duplicate_rx: Vec<Box<dyn RxQueue>>,
    /// Rescue duplicates in (one queue per duplicator feeding the node, or none):
    /// duplicates whose primary found its node's queue full. The secondary instance
    /// serves them before the duplicate queues.
    pub rescue_rx: Vec<Box<dyn RxQueue>>,
    /// The primary instance's output to dedup.
    pub primary_tx: Box<dyn TxQueue>,
    /// The secondary instance's output to dedup.
    pub duplicate_tx: Box<dyn TxQueue>,
    /// Completion notices from dedup for the secondary instance, for active purge of
    /// duplicates (none: no purge).
    pub notices: Option<CompletionReceiver>,
    /// Completion notices from dedup for the primary instance: with them it also
    /// purges late primaries, whose duplicate was delivered first, while it is
    /// backlogged (a receive burst fills a whole batch; none: it inspects every
    /// primary).
    pub primary_notices: Option<CompletionReceiver>,
    /// Where the node marks itself down when it dies.
    pub health: NodeHealth,
    /// Start of the run on [`monotonic_ns`]: fault windows count from it.
    pub origin_ns: u64,
    /// The node's cgroup, if its CPU capacity is limited.
    pub cgroup: Option<Arc<NodeCgroup>>,
}

/// Which instance of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Serves queue 0.
    Primary,
    /// Serves queue 1.
    Secondary,
}

/// What one instance did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceReport {
    /// Primary or secondary.
    pub role: Role,
    /// The network function's name.
    pub function: String,
    /// Packets taken from the queue, forwarded to dedup, dropped by reason (`purged`,
    /// `nf_verdict`, `missing_metadata`, `node_down`).
    pub counters: StageSnapshot,
    /// Packets handed to the network function.
    pub inspected: u64,
    /// The counters of the queues the instance served, added up (drops at the queues
    /// included).
    pub queue: QueueStats,
    /// Processing time, latency, queue depth over time.
    pub metrics: InstanceMetricsReport,
}

/// One thread of a node.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThreadReport {
    /// Which instances it served.
    pub serves: Vec<Role>,
    /// Scheduling class it ran in.
    pub class: SchedClass,
    /// CPU time the OS gave it, in seconds.
    pub cpu_secs: Option<f64>,
    /// Latency from a producer's ring to the thread running again, in microseconds.
    pub wake_latency: LatencyReport,
    /// Placement requests the OS refused.
    pub warnings: Vec<String>,
}

/// What a node did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeReport {
    /// Node index.
    pub id: usize,
    /// The core its threads were pinned to.
    pub core: Option<usize>,
    /// Scheduling mode.
    pub mode: SchedMode,
    /// Fraction of a core its cgroup allowed, if limited.
    pub capacity: Option<f64>,
    /// The primary instance.
    pub primary: InstanceReport,
    /// The secondary instance.
    pub secondary: InstanceReport,
    /// Its threads (two in `os` mode, one in `inline` mode).
    pub threads: Vec<ThreadReport>,
    /// Completion notices taken in (each purging instance takes every notice; this is
    /// the count of the one that took the most).
    pub notices: u64,
    /// Seconds from the start of the run to its death, if it was killed.
    pub killed_at_secs: Option<f64>,
}

/// Live counters of a running node.
#[derive(Debug, Clone)]
pub struct NodeCounters {
    /// The primary instance's counters.
    pub primary: Arc<InstanceCounters>,
    /// The secondary instance's counters.
    pub secondary: Arc<InstanceCounters>,
}

/// Live counters of one instance.
#[derive(Debug, Default)]
pub struct InstanceCounters {
    /// Received, forwarded, dropped.
    pub stage: StageCounters,
    /// Handed to the network function.
    pub inspected: dataplane::counters::Counter,
}

/// A running node.
pub struct NodeHandle {
    config: NodeConfig,
    capacity: Option<f64>,
    counters: NodeCounters,
    threads: Vec<JoinHandle<Result<ThreadOutcome, PortError>>>,
}

/// What one of a node's threads hands back.
struct ThreadOutcome {
    instances: Vec<InstanceReport>,
    thread: ThreadReport,
    notices: u64,
    killed_at_secs: Option<f64>,
}

impl NodeHandle {
    /// Live counters.
    pub fn counters(&self) -> &NodeCounters {
        &self.counters
    }

    /// Whether the node's threads have all stopped.
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Waits until the node drained its queues and stopped.
    pub fn join(self) -> Result<NodeReport, PortError> {
        let outcomes: Vec<_> = self
            .threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        let mut instances = Vec::new();
        let (mut threads, mut notices, mut killed_at_secs) = (Vec::new(), 0, None);
        for outcome in outcomes {
            let outcome = outcome?;
            instances.extend(outcome.instances);
            threads.push(outcome.thread);
            notices = notices.max(outcome.notices);
            killed_at_secs = killed_at_secs.or(outcome.killed_at_secs);
        }
        let mut take = |role| {
            let i = instances
                .iter()
                .position(|r: &InstanceReport| r.role == role)
                .expect("every node runs both instances");
            instances.swap_remove(i)
        };
        let (primary, secondary) = (take(Role::Primary), take(Role::Secondary));
        Ok(NodeReport {
            id: self.config.id,
            core: self.config.core,
            mode: self.config.mode,
            capacity: self.capacity,
            primary,
            secondary,
            threads,
            notices,
            killed_at_secs,
        })
    }
}

/// Starts a node. It ends when both its input queues have ended.
pub fn spawn_node<F: NetworkFunction>(
    config: NodeConfig,
    primary: F,
    secondary: F,
    io: NodeIo,
    pool: &BufPool,
) -> Result<NodeHandle, NodeError> {
    let bad = |reason: String| NodeError::Config {
        node: config.id,
        reason,
    };
    Batch::with_capacity(config.batch).map_err(|e| bad(e.to_string()))?;
    if config.duplicate_batch == 0 || config.duplicate_batch > config.batch {
        return Err(bad(format!(
            "duplicate batch {} must be between 1 and the batch size {}",
            config.duplicate_batch, config.batch
        )));
    }
    let purge_set = |notices: Option<CompletionReceiver>| {
        notices
            .map(|rx| PurgeSet::new(rx, config.purge_window))
            .transpose()
            .map_err(|e| bad(e.to_string()))
    };
    let purge = purge_set(io.notices)?;
    let primary_purge = purge_set(io.primary_notices)?;
    let counters = NodeCounters {
        primary: Arc::default(),
        secondary: Arc::default(),
    };
    let shared = Shared {
        id: config.id,
        faults: config.faults.clone(),
        health: io.health,
        origin_ns: io.origin_ns,
        cgroup: io.cgroup.clone(),
    };
    let depth_ns = config.depth_interval.as_nanos() as u64;
    let secondary_batch = match config.mode {
        SchedMode::Inline => config.duplicate_batch,
        SchedMode::Os => config.batch,
    };
    let primary = Instance::new(
        Role::Primary,
        primary,
        (RxSet::new(io.primary_rx), io.primary_tx),
        primary_purge,
        counters.primary.clone(),
        (config.batch, depth_ns),
    );
    let secondary = Instance::new(
        Role::Secondary,
        secondary,
        (
            RxSet::tiered(vec![io.rescue_rx, io.duplicate_rx]),
            io.duplicate_tx,
        ),
        purge,
        counters.secondary.clone(),
        (secondary_batch, depth_ns),
    );
    let spawn = |role: &str, work: Box<dyn FnOnce() -> Result<ThreadOutcome, PortError> + Send>| {
        std::thread::Builder::new()
            .name(format!("node{}-{role}", config.id))
            .spawn(work)
            .map_err(|source| NodeError::Spawn {
                node: config.id,
                source,
            })
    };
    let (core, primary_spin) = (config.core, config.primary_spin);
    let threads = match config.mode {
        SchedMode::Inline => {
            let pool = pool.clone();
            vec![spawn(
                "inline",
                Box::new(move || {
                    let placement = Placement {
                        core,
                        class: SchedClass::Normal,
                    };
                    run(
                        vec![primary, secondary],
                        placement,
                        shared,
                        pool,
                        None,
                        Duration::ZERO,
                    )
                }),
            )?]
        }
        SchedMode::Os => {
            let (pool_1, pool_2, shared_2) = (pool.clone(), pool.clone(), shared.clone());
            // Both threads start serving only once both are placed: otherwise the
            // secondary could run duplicates before the primary thread exists.
            let placed = Arc::new(Barrier::new(2));
            let placed_2 = placed.clone();
            vec![
                spawn(
                    "primary",
                    Box::new(move || {
                        let placement = Placement {
                            core,
                            class: SchedClass::Fifo(PRIMARY_FIFO_PRIORITY),
                        };
                        run(
                            vec![primary],
                            placement,
                            shared,
                            pool_1,
                            Some(placed),
                            primary_spin,
                        )
                    }),
                )?,
                spawn(
                    "secondary",
                    Box::new(move || {
                        let placement = Placement {
                            core,
                            class: SchedClass::Idle,
                        };
                        run(
                            vec![secondary],
                            placement,
                            shared_2,
                            pool_2,
                            Some(placed_2),
                            Duration::ZERO,
                        )
                    }),
                )?,
            ]
        }
    };
    Ok(NodeHandle {
        capacity: io.cgroup.as_ref().map(|c| c.fraction()),
        config,
        counters,
        threads,
    })
}

/// What every thread of a node shares.
#[derive(Clone)]
struct Shared {
    id: usize,
    faults: NodeFaults,
    health: NodeHealth,
    origin_ns: u64,
    cgroup: Option<Arc<NodeCgroup>>,
}

/// One instance: a network function, its queues and its measurements.
struct Instance<F> {
    role: Role,
    nf: F,
    rx: RxSet,
    tx: Box<dyn TxQueue>,
    purge: Option<PurgeSet>,
    notices: u64,
    counters: Arc<InstanceCounters>,
    metrics: InstanceMetrics,
    input: Batch,
    output: Batch,
}

impl<F: NetworkFunction> Instance<F> {
    fn new(
        role: Role,
        nf: F,
        (rx, tx): (RxSet, Box<dyn TxQueue>),
        purge: Option<PurgeSet>,
        counters: Arc<InstanceCounters>,
        (batch_size, depth_interval_ns): (usize, u64),
    ) -> Self {
        let batch = || Batch::with_capacity(batch_size).expect("batch size checked in spawn_node");
        Instance {
            role,
            nf,
            rx,
            tx,
            purge,
            notices: 0,
            counters,
            metrics: InstanceMetrics::new(depth_interval_ns),
            input: batch(),
            output: batch(),
        }
    }

    /// Receives one burst and, if packets came, inspects and forwards them.
    fn serve(&mut self, bufs: &mut BufCache, idler: &mut Idler) -> Result<RxOutcome, PortError> {
        if let Some(purge) = &mut self.purge {
            self.notices += purge.update() as u64;
        }
        let outcome = self.rx.rx_burst(&mut self.input, bufs)?;
        if let RxOutcome::Received(_) = outcome {
            // A primary is purged only while the instance is backlogged (its burst
            // filled a whole batch): a late primary is then a job it may never reach
            // in time, while with a short queue it inspects every packet of its flows.
            let purge = match self.role {
                Role::Primary if !self.input.is_full() => None,
                _ => self.purge.as_ref(),
            };
            let start = monotonic_ns();
            process_batch(
                &mut self.nf,
                &mut self.input,
                &mut self.output,
                &BatchContext {
                    counters: &self.counters,
                    purge,
                },
                bufs,
            );
            self.metrics.add_busy(monotonic_ns() - start);
            let now = now_ns();
            for pkt in self.output.iter() {
                if let Ok(frame) = JobFrame::new_checked(pkt.data()) {
                    self.metrics
                        .record_latency(now.saturating_sub(frame.ingress_ns()));
                }
            }
            send_all(self.tx.as_mut(), &mut self.output, bufs, idler)?;
        }
        Ok(outcome)
    }

    /// A dead node's queue: everything that still arrives is dropped and counted, until
    /// the senders are gone.
    fn drain_dead(&mut self, bufs: &mut BufCache) -> Result<(), PortError> {
        loop {
            match self.rx.rx_burst(&mut self.input, bufs)? {
                RxOutcome::Received(n) => {
                    let c = &self.counters.stage;
                    c.received.add(n as u64);
                    c.dropped.add(DropReason::NodeDown, n as u64);
                    self.input.free_into(bufs);
                }
                RxOutcome::Idle => std::thread::sleep(Duration::from_millis(1)),
                RxOutcome::Ended => return Ok(()),
            }
        }
    }

    fn report(mut self) -> Result<InstanceReport, PortError> {
        self.nf.finish();
        self.tx.flush()?;
        let inspected = self.counters.inspected.get();
        Ok(InstanceReport {
            role: self.role,
            function: self.nf.name().to_string(),
            counters: self.counters.stage.snapshot(),
            inspected,
            queue: self.rx.stats(),
            metrics: self.metrics.report(inspected),
        })
    }
}

/// One thread of a node serving `instances` in order of priority: it always serves the
/// first instance with work, one burst at a time (`inline` mode with two instances, one
/// `os`-mode thread with one).
fn run<F: NetworkFunction>(
    mut instances: Vec<Instance<F>>,
    placement: Placement,
    shared: Shared,
    pool: BufPool,
    start_together: Option<Arc<Barrier>>,
    spin: Duration,
) -> Result<ThreadOutcome, PortError> {
    let mut warnings = Vec::new();
    if let Some(cg) = &shared.cgroup {
        if let Err(e) = cg.join_current_thread() {
            warnings.push(e.to_string());
        }
    }
    let (class, placed) = placement::apply(placement);
    warnings.extend(placed);
    if let Some(barrier) = start_together {
        barrier.wait();
    }
    let mut bufs = pool.cache();
    let bell = Doorbell::for_current_thread();
    for inst in &mut instances {
        inst.rx.set_doorbell(&bell);
        inst.tx.set_doorbell(bell.clone());
    }
    let mut idler = Idler::new(bell).with_spin_time(spin);
    let mut done = vec![false; instances.len()];
    let mut killed_at_secs = None;
    'run: while done.iter().any(|d| !d) {
        let since = monotonic_ns().saturating_sub(shared.origin_ns);
        match shared.faults.state(since) {
            FaultState::Running => {}
            FaultState::Paused(until) => {
                // Wake at least every millisecond: a kill may fall inside the pause.
                sleep_until(shared.origin_ns + until.min(since + 1_000_000));
                continue;
            }
            FaultState::Dead => {
                killed_at_secs = Some(since as f64 / 1e9);
                shared.health.mark_down(shared.id);
                for inst in &mut instances {
                    inst.drain_dead(&mut bufs)?;
                }
                break;
            }
        }
        for inst in &mut instances {
            inst.metrics.sample_depth(since, || inst.rx.depth());
        }
        for (inst, done) in instances.iter_mut().zip(done.iter_mut()) {
            if *done {
                continue;
            }
            match inst.serve(&mut bufs, &mut idler)? {
                RxOutcome::Received(_) => {
                    idler.busy();
                    continue 'run;
                }
                RxOutcome::Ended => *done = true,
                RxOutcome::Idle => {}
            }
        }
        idler.idle();
    }
    let notices = instances.iter().map(|i| i.notices).max().unwrap_or(0);
    let serves = instances.iter().map(|i| i.role).collect();
    let reports = instances
        .into_iter()
        .map(Instance::report)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ThreadOutcome {
        instances: reports,
        thread: ThreadReport {
            serves,
            class,
            cpu_secs: thread_cpu_secs(),
            wake_latency: LatencyReport::from_histogram(idler.wake_latency()),
            warnings,
        },
        notices,
        killed_at_secs,
    })
}

/// What [`process_batch`] counts into and consults.
pub struct BatchContext<'a> {
    /// The instance's counters.
    pub counters: &'a InstanceCounters,
    /// Jobs already delivered by their other copy (active purge), if enabled.
    pub purge: Option<&'a PurgeSet>,
}

/// Runs `nf` on packets from the front of `input` (handing it each frame without its
/// metadata header), moves the packets it forwards to `output` and frees the rest into
/// `bufs`, counting each: `purged` for copies whose job the other copy already
/// delivered (never inspected), `nf_verdict` for the function's drops, `missing_metadata` for
/// frames without a valid das header. Takes at most `output.room()` packets; the rest
/// stay in `input`.
pub fn process_batch<F: NetworkFunction>(
    nf: &mut F,
    input: &mut Batch,
    output: &mut Batch,
    ctx: &BatchContext<'_>,
    bufs: &mut BufCache,
) {
    let (mut dropped, mut foreign, mut purged) = (0u64, 0u64, 0u64);
    let take = input.len().min(output.room());
    let before = output.len() as u64;
    for pkt in input.drain_front(take) {
        let verdict = match JobFrame::new_checked(pkt.data()) {
            Ok(frame) => {
                let meta = frame.meta();
                if ctx.purge.is_some_and(|p| p.is_purged(&meta)) {
                    purged += 1;
                    bufs.free(pkt);
                    continue;
                }
                Some(nf.process(frame.inner(), &meta))
            }
            Err(_) => None,
        };
        match verdict {
            Some(Verdict::Forward) => {
                // Cannot fail: at most output.room() packets are taken.
                let _ = output.push(pkt);
            }
            Some(Verdict::Drop) => {
                dropped += 1;
                bufs.free(pkt);
            }
            None => {
                foreign += 1;
                bufs.free(pkt);
            }
        }
    }
    let c = &ctx.counters.stage;
    c.received.add(take as u64);
    c.forwarded.add(output.len() as u64 - before);
    c.dropped.add(DropReason::NfVerdict, dropped);
    c.dropped.add(DropReason::MissingMetadata, foreign);
    c.dropped.add(DropReason::Purged, purged);
    ctx.counters.inspected.add(take as u64 - foreign - purged);
}
