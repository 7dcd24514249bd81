//! An IDS node: a primary and a secondary instance of a network function on one core.
//!
//! Queue 0 carries primaries and is served by the primary instance at normal priority;
//! queue 1 carries duplicates and is served by the secondary instance at SCHED_IDLE,
//! so duplicates only use cycles the primary leaves idle. Both threads are pinned to
//! the node's core and both send what they inspected to dedup. The duplicate queue's
//! bound and its overflow policy belong to the port that feeds queue 1 (the one-process
//! pipeline builds it as a drop-oldest ring); its drops show in the queue counters this
//! node reports.

use std::sync::Arc;
use std::thread::JoinHandle;

use dataplane::counters::{DropReason, StageCounters, StageSnapshot};
use dataplane::meta::JobFrame;
use dataplane::port::{QueueCounters, QueueStats, send_all};
use dataplane::{
    Batch, BufCache, BufPool, Doorbell, Idler, PortError, RxOutcome, RxQueue, TxQueue,
};

use crate::nf::{NetworkFunction, Verdict};
use crate::placement::{self, Placement, SchedClass};

/// How a node sets the OS priorities of its two instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PriorityMode {
    /// Primary at SCHED_OTHER, secondary at SCHED_IDLE (strict in practice: the
    /// secondary gets the core only while the primary sleeps).
    #[default]
    Split,
    /// Both at SCHED_OTHER: the instances share the core equally (for comparison).
    Equal,
}

/// A node's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// Node index (for names and reports).
    pub id: usize,
    /// The CPU both instances are pinned to, if any.
    pub core: Option<usize>,
    /// Packets per batch.
    pub batch: usize,
    /// OS priorities of the instances.
    pub priorities: PriorityMode,
}

/// The four queues a node serves.
pub struct NodeQueues {
    /// Primaries in (queue 0).
    pub primary_rx: Box<dyn RxQueue>,
    /// Duplicates in (queue 1).
    pub duplicate_rx: Box<dyn RxQueue>,
    /// The primary instance's output to dedup.
    pub primary_tx: Box<dyn TxQueue>,
    /// The secondary instance's output to dedup.
    pub duplicate_tx: Box<dyn TxQueue>,
}

/// Which instance of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Serves queue 0.
    Primary,
    /// Serves queue 1.
    Secondary,
}

/// What one instance did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstanceReport {
    /// Primary or secondary.
    pub role: Role,
    /// The network function's name.
    pub function: String,
    /// Packets taken from the queue, forwarded to dedup, dropped by reason.
    pub counters: StageSnapshot,
    /// The counters of the queue the instance served (drops at the queue included).
    pub queue: QueueStats,
    /// Scheduling class the OS reported for the thread.
    pub class: Option<SchedClass>,
    /// Placement requests the OS refused.
    pub warnings: Vec<String>,
}

/// What a node did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeReport {
    /// Node index.
    pub id: usize,
    /// The core its instances were pinned to.
    pub core: Option<usize>,
    /// The primary instance.
    pub primary: InstanceReport,
    /// The secondary instance.
    pub secondary: InstanceReport,
}

/// A running node.
pub struct NodeHandle {
    id: usize,
    core: Option<usize>,
    primary: InstanceHandle,
    secondary: InstanceHandle,
}

struct InstanceHandle {
    counters: Arc<StageCounters>,
    thread: JoinHandle<Result<InstanceReport, PortError>>,
}

impl NodeHandle {
    /// Live counters of the primary and the secondary instance.
    pub fn counters(&self) -> (&Arc<StageCounters>, &Arc<StageCounters>) {
        (&self.primary.counters, &self.secondary.counters)
    }

    /// Waits until both instances have drained their queues and stopped.
    pub fn join(self) -> Result<NodeReport, PortError> {
        let join = |h: InstanceHandle| {
            h.thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        let primary = join(self.primary);
        let secondary = join(self.secondary);
        Ok(NodeReport {
            id: self.id,
            core: self.core,
            primary: primary?,
            secondary: secondary?,
        })
    }
}

/// Starts a node's two instance threads. Each ends when its input queue has ended.
pub fn spawn_node<F: NetworkFunction>(
    config: NodeConfig,
    primary: F,
    secondary: F,
    queues: NodeQueues,
    pool: &BufPool,
) -> std::io::Result<NodeHandle> {
    Batch::with_capacity(config.batch)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let secondary_class = match config.priorities {
        PriorityMode::Split => SchedClass::Idle,
        PriorityMode::Equal => SchedClass::Normal,
    };
    let primary = spawn_instance(
        format!("node{}-primary", config.id),
        Instance {
            role: Role::Primary,
            nf: primary,
            rx: queues.primary_rx,
            tx: queues.primary_tx,
            batch: config.batch,
        },
        Placement {
            core: config.core,
            class: SchedClass::Normal,
        },
        pool.clone(),
    )?;
    let secondary = spawn_instance(
        format!("node{}-secondary", config.id),
        Instance {
            role: Role::Secondary,
            nf: secondary,
            rx: queues.duplicate_rx,
            tx: queues.duplicate_tx,
            batch: config.batch,
        },
        Placement {
            core: config.core,
            class: secondary_class,
        },
        pool.clone(),
    )?;
    Ok(NodeHandle {
        id: config.id,
        core: config.core,
        primary,
        secondary,
    })
}

struct Instance<F> {
    role: Role,
    nf: F,
    rx: Box<dyn RxQueue>,
    tx: Box<dyn TxQueue>,
    batch: usize,
}

fn spawn_instance<F: NetworkFunction>(
    name: String,
    mut instance: Instance<F>,
    placement: Placement,
    pool: BufPool,
) -> std::io::Result<InstanceHandle> {
    let counters = Arc::new(StageCounters::default());
    let c = counters.clone();
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        let warnings = placement::apply(placement);
        let queue = instance.rx.counters();
        instance.run(&c, &mut pool.cache())?;
        Ok(InstanceReport {
            role: instance.role,
            function: instance.nf.name().to_string(),
            counters: c.snapshot(),
            queue: QueueCounters::snapshot(&queue),
            class: placement::current_class(),
            warnings,
        })
    })?;
    Ok(InstanceHandle { counters, thread })
}

impl<F: NetworkFunction> Instance<F> {
    fn run(&mut self, counters: &StageCounters, bufs: &mut BufCache) -> Result<(), PortError> {
        let bell = Doorbell::for_current_thread();
        self.rx.set_doorbell(bell.clone());
        self.tx.set_doorbell(bell.clone());
        let mut idler = Idler::new(bell);
        let mut input = Batch::with_capacity(self.batch).expect("size checked in spawn_node");
        let mut output = Batch::with_capacity(self.batch).expect("size checked in spawn_node");
        loop {
            match self.rx.rx_burst(&mut input, bufs)? {
                RxOutcome::Received(_) => {
                    idler.busy();
                    process_batch(&mut self.nf, &mut input, &mut output, counters, bufs);
                    send_all(self.tx.as_mut(), &mut output, bufs, &mut idler)?;
                }
                RxOutcome::Idle => idler.idle(),
                RxOutcome::Ended => break,
            }
        }
        self.tx.flush()
    }
}

/// Runs `nf` on packets from the front of `input` (handing it each frame without its
/// metadata header), moves the packets it forwards to `output` and frees the rest into
/// `bufs`, counting each: `nf_verdict` for the function's drops, `missing_metadata` for
/// frames without a valid das header. Takes at most `output.room()` packets; the rest
/// stay in `input`.
pub fn process_batch<F: NetworkFunction>(
    nf: &mut F,
    input: &mut Batch,
    output: &mut Batch,
    counters: &StageCounters,
    bufs: &mut BufCache,
) {
    let (mut dropped, mut foreign) = (0u64, 0u64);
    let take = input.len().min(output.room());
    let before = output.len() as u64;
    for pkt in input.drain_front(take) {
        let verdict = match JobFrame::new_checked(pkt.data()) {
            Ok(frame) => Some(nf.process(frame.inner(), &frame.meta())),
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
    counters.received.add(take as u64);
    counters.forwarded.add(output.len() as u64 - before);
    counters.dropped.add(DropReason::NfVerdict, dropped);
    counters.dropped.add(DropReason::MissingMetadata, foreign);
}
