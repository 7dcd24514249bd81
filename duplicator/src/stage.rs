//! The duplicator D-Stage: dispatch each packet to its flow's primary node and, by
//! scheme, a copy to a different node.

use dataplane::counters::{Counter, DropReason, StageCounters, StageSnapshot};
use dataplane::flow::{Toeplitz, frame_hash};
use dataplane::health::NodeHealth;
use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority, Steering};
use dataplane::port::send_all;
use dataplane::status::RemoteQueueView;
use dataplane::{Batch, BufCache, Idler, PortError, TxQueue};
use std::sync::Arc;

use crate::scheme::Scheme;
use crate::select::{NodeTable, SelectError};

/// Duplicator settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicatorConfig {
    /// This duplicator's id, stamped in every copy (job ids are unique per duplicator).
    pub id: u8,
    /// Number of IDS nodes.
    pub nodes: usize,
    /// Which copies to make.
    pub scheme: Scheme,
    /// Packets per batch sent to a node queue.
    pub batch: usize,
    /// With the hedged scheme: a packet gets a duplicate only while its primary node's
    /// queue 0 holds at least this many packets (queueing delay = depth × the node's
    /// time per packet).
    pub hedge_depth: usize,
    /// The overload guard (DAS and hedged): `None` turns it off.
    pub guard: Option<GuardConfig>,
}

impl DuplicatorConfig {
    /// A configuration with the defaults: batches of 32, hedging above 64 queued
    /// packets, the overload guard on.
    pub fn new(id: u8, nodes: usize, scheme: Scheme) -> Self {
        DuplicatorConfig {
            id,
            nodes,
            scheme,
            batch: dataplane::DEFAULT_BATCH,
            hedge_depth: 64,
            guard: Some(GuardConfig::default()),
        }
    }
}

/// The overload guard: stop duplicating to a node while its duplicate queue overflows,
/// and resume when it can serve duplicates again.
///
/// Every `interval`, for each node, the guard compares the duplicates its queue evicted
/// or refused with those it was sent; above `drop_threshold` the node gets no duplicate
/// for a back-off (starting at `interval`, doubling while the overload lasts, at most
/// `max_backoff`), after which duplicates resume and are measured again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardConfig {
    /// How often the drop rate is checked.
    pub interval: std::time::Duration,
    /// Share of duplicates dropped by a node's queue above which it gets no more.
    pub drop_threshold: f64,
    /// Longest pause.
    pub max_backoff: std::time::Duration,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            interval: std::time::Duration::from_millis(10),
            drop_threshold: 0.5,
            max_backoff: std::time::Duration::from_secs(1),
        }
    }
}

/// The guard's view of one node.
#[derive(Debug, Clone, Copy, Default)]
struct GuardState {
    sent: u64,
    dropped: u64,
    taken: u64,
    paused_until_ns: u64,
    backoff_ns: u64,
}

/// Errors from duplicator settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuplicatorError {
    /// Bad node count.
    #[error(transparent)]
    Nodes(#[from] SelectError),
    /// A duplicating scheme with a single node.
    #[error("scheme {0} sends duplicates to a second node: it needs at least 2 nodes")]
    NeedsTwoNodes(Scheme),
    /// The outputs do not match the node count.
    #[error("{given} node outputs for {nodes} nodes")]
    OutputCount {
        /// Outputs given.
        given: usize,
        /// Nodes configured.
        nodes: usize,
    },
    /// Bad batch size.
    #[error(transparent)]
    Batch(#[from] dataplane::batch::BatchError),
}

/// The node queue, after queues 0 (primaries) and 1 (duplicates), that takes rescue
/// duplicates: low-priority duplicates whose primary the primary node's full queue
/// was about to refuse, served by the secondary instance before other duplicates.
pub const RESCUE_QUEUE: usize = 2;

/// The transmit queues towards one node.
pub struct NodeOutput {
    /// Towards the node's queue 0 (high priority).
    pub primary: Box<dyn TxQueue>,
    /// Towards the node's queue 1 (low priority, bounded).
    pub duplicate: Box<dyn TxQueue>,
    /// Towards the node's rescue queue ([`RESCUE_QUEUE`]), where the node has one: a
    /// low-priority duplicate whose primary finds no room in its node's queue 0 goes
    /// here, so the node's spare cycles go first to jobs nobody else will inspect.
    /// Give one only where the primary queue tells its free room ([`TxQueue::room`])
    /// and drops what does not fit (drop-tail): behind a queue that makes the
    /// duplicator wait instead, every primary gets in and a rescue would be wasted.
    pub rescue: Option<Box<dyn TxQueue>>,
}

/// The duplicator's counters, readable while it runs.
///
/// Jobs are counted in `stage`: received, forwarded (at least one copy dispatched) or
/// dropped with `node_down` (every node that could take a copy was known dead). Copies
/// are counted per node and queue when a queue takes them, and as lost when their node
/// died while they waited in the duplicator, so that copies dispatched (one per
/// forwarded job that did not fail over, plus one per duplicate) = copies taken +
/// copies lost.
#[derive(Debug)]
pub struct DuplicatorCounters {
    /// Jobs received, forwarded, dropped by reason.
    pub stage: StageCounters,
    /// Duplicate copies dispatched (failovers included).
    pub duplicates: Counter,
    /// Duplicates sent at high priority because their primary's node was dead.
    pub failovers: Counter,
    /// Duplicates not made because the primary node's queue was short (hedged).
    pub not_hedged: Counter,
    /// Duplicates not made because the overload guard paused the secondary node.
    pub guarded: Counter,
    /// Duplicates sent to a rescue queue (their primary found its queue full).
    pub rescued: Counter,
    /// Per node, copies its queue 0, its queue 1 and its rescue queue took.
    pub copies_per_node: Vec<[Counter; 3]>,
    /// Per node, copies dropped because the node died before taking them.
    pub copies_lost_per_node: Vec<Counter>,
}

/// A copy of [`DuplicatorCounters`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DuplicatorReport {
    /// The scheme.
    pub scheme: Scheme,
    /// Jobs received, forwarded, dropped.
    pub counters: StageSnapshot,
    /// Duplicate copies dispatched.
    pub duplicates: u64,
    /// Duplicates promoted to high priority because their primary's node was dead.
    pub failovers: u64,
    /// Duplicates not made: the primary node's queue was short (hedged scheme).
    pub not_hedged: u64,
    /// Duplicates not made: the overload guard had paused the secondary node.
    pub guarded: u64,
    /// Times the overload guard paused a node.
    pub guard_pauses: u64,
    /// Duplicates sent to a rescue queue because their primary found its queue full
    /// (counted in `duplicates` too).
    #[serde(default)]
    pub rescued: u64,
    /// Per node, copies taken by queue 0, queue 1 and the rescue queue.
    pub copies_per_node: Vec<[u64; 3]>,
    /// Per node, copies lost because the node died.
    pub copies_lost_per_node: Vec<u64>,
    /// Nodes found dead during the run.
    pub dead_nodes: Vec<usize>,
}

/// The duplicator stage.
pub struct Duplicator {
    config: DuplicatorConfig,
    table: NodeTable,
    hasher: Toeplitz,
    next_job: u64,
    outputs: Vec<NodeOutput>,
    /// Per node, copies waiting for queue 0, queue 1 and the rescue queue.
    staged: Vec<[Batch; 3]>,
    /// Whether each node still takes copies: up by `health`, and its queues' receivers
    /// not gone.
    alive: Vec<bool>,
    health: Option<NodeHealth>,
    /// Per node in another process, what its status frames say its duplicate queue
    /// took (empty: the nodes' queues are local).
    remote: Vec<Arc<RemoteQueueView>>,
    /// Per node, whether it may get duplicates now (hedging and the guard decide).
    wants_duplicates: Vec<bool>,
    /// Per node, the room left in its queue 0 for the batch being dispatched, where
    /// the queue tells it (rescue queues).
    room: Vec<Option<usize>>,
    guard: Vec<GuardState>,
    next_guard_check_ns: u64,
    guard_pauses: u64,
    counters: std::sync::Arc<DuplicatorCounters>,
}

impl Duplicator {
    /// A duplicator sending to `outputs` (one per node, in node order).
    pub fn new(
        config: DuplicatorConfig,
        outputs: Vec<NodeOutput>,
    ) -> Result<Self, DuplicatorError> {
        let table = NodeTable::new(config.nodes)?;
        if config.nodes < 2 && config.scheme != Scheme::Single {
            return Err(DuplicatorError::NeedsTwoNodes(config.scheme));
        }
        if outputs.len() != config.nodes {
            return Err(DuplicatorError::OutputCount {
                given: outputs.len(),
                nodes: config.nodes,
            });
        }
        let staged = (0..config.nodes)
            .map(|_| {
                Ok([
                    Batch::with_capacity(config.batch)?,
                    Batch::with_capacity(config.batch)?,
                    Batch::with_capacity(config.batch)?,
                ])
            })
            .collect::<Result<_, dataplane::batch::BatchError>>()?;
        let per_node = || (0..config.nodes).map(|_| Counter::default()).collect();
        let per_queue = || (0..config.nodes).map(|_| Default::default()).collect();
        Ok(Duplicator {
            config,
            table,
            hasher: Toeplitz::symmetric(),
            next_job: 0,
            outputs,
            staged,
            alive: vec![true; config.nodes],
            health: None,
            remote: Vec::new(),
            wants_duplicates: vec![true; config.nodes],
            room: vec![None; config.nodes],
            guard: vec![GuardState::default(); config.nodes],
            next_guard_check_ns: 0,
            guard_pauses: 0,
            counters: std::sync::Arc::new(DuplicatorCounters {
                stage: StageCounters::default(),
                duplicates: Counter::default(),
                failovers: Counter::default(),
                not_hedged: Counter::default(),
                guarded: Counter::default(),
                rescued: Counter::default(),
                copies_per_node: per_queue(),
                copies_lost_per_node: per_node(),
            }),
        })
    }

    /// Lets the overload guard judge nodes in other processes by what they took of the
    /// duplicates sent them (`views[i]` for node i, from their status frames), besides
    /// what the duplicate queues' senders dropped.
    pub fn with_remote_queues(mut self, views: Vec<Arc<RemoteQueueView>>) -> Self {
        self.remote = views;
        self
    }

    /// Follows `health`: a node marked down gets no more copies (checked once per
    /// batch).
    pub fn with_health(mut self, health: NodeHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// The live counters.
    pub fn counters(&self) -> std::sync::Arc<DuplicatorCounters> {
        self.counters.clone()
    }

    /// The outputs, for registering a doorbell.
    pub fn outputs_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn TxQueue>> {
        self.outputs
            .iter_mut()
            .flat_map(|o| {
                [
                    Some(&mut o.primary),
                    Some(&mut o.duplicate),
                    o.rescue.as_mut(),
                ]
            })
            .flatten()
    }

    /// Dispatches every packet of `input`: stamps a job id and `now_ns` as ingress time,
    /// sends the primary copy to the flow's primary node and, by scheme, a duplicate to
    /// a different node. Sends block while a high-priority queue is full (lossless
    /// backpressure, waiting on `idler`); the duplicate queue's own policy decides what
    /// happens when it is full.
    ///
    /// A node whose queue's receiver is gone is dead: copies for it are dropped and
    /// counted, and when a job's primary node is dead its duplicate, if the scheme makes
    /// one, goes at high priority instead (failover), so the flow stays inspected.
    /// With low-priority duplicates, a job whose primary finds its node's queue 0 full
    /// (as far as the queue tells its room, [`TxQueue::room`]) sends its duplicate to
    /// the secondary's rescue queue if it has one, past the overload guard: the
    /// secondary instance serves it before other duplicates, since nobody else will
    /// inspect that job.
    pub fn dispatch(
        &mut self,
        input: &mut Batch,
        bufs: &mut BufCache,
        idler: &mut Idler,
        now_ns: u64,
    ) -> Result<(), PortError> {
        let received = input.len() as u64;
        if let Some(health) = &self.health {
            for (node, alive) in self.alive.iter_mut().enumerate() {
                *alive &= health.is_up(node);
            }
        }
        let dup_priority = self.config.scheme.duplicate_priority();
        let hedging = self.config.scheme == Scheme::Hedged;
        if dup_priority == Some(Priority::Low) {
            self.run_guard(now_ns);
        }
        // Hedging looks at each primary node's queue once per batch.
        let hot: Vec<bool> = if hedging {
            self.outputs
                .iter()
                .map(|o| {
                    o.primary
                        .depth()
                        .is_some_and(|d| d >= self.config.hedge_depth)
                })
                .collect()
        } else {
            Vec::new()
        };
        // With low-priority duplicates, the room each primary queue has for this batch,
        // where the queue tells it: a job whose primary will find no room (the queue
        // drops it) sends its duplicate to the secondary's rescue queue, if it has one.
        let low = dup_priority == Some(Priority::Low);
        for (room, o) in self.room.iter_mut().zip(&self.outputs) {
            *room = if low { o.primary.room() } else { None };
        }
        let (mut duplicates, mut failovers, mut unroutable) = (0u64, 0u64, 0u64);
        let (mut not_hedged, mut guarded, mut rescued) = (0u64, 0u64, 0u64);
        let duplicator = self.config.id;
        for mut pkt in input.drain() {
            let hash = frame_hash(&self.hasher, pkt.data());
            let primary = self.table.primary(hash);
            let secondary = dup_priority
                .and_then(|_| self.table.secondary(hash, primary))
                .filter(|&s| self.alive[s]);
            let primary_alive = self.alive[primary];
            let refused = low && primary_alive && self.refuses_next(primary);
            let rescue = |s: usize| refused && self.outputs[s].rescue.is_some();
            // A duplicate is made unless hedging finds the primary's queue short or the
            // guard has paused the secondary (a dead primary always gets its failover,
            // a refused primary its rescue).
            let secondary = match secondary {
                Some(_) if primary_alive && hedging && !hot[primary] => {
                    not_hedged += 1;
                    None
                }
                Some(s) if primary_alive && !self.wants_duplicates[s] && !rescue(s) => {
                    guarded += 1;
                    None
                }
                other => other,
            };
            let job = JobId(self.next_job);
            self.next_job += 1;
            let stamp = |kind, priority, peer: Option<usize>| JobMeta {
                job,
                kind,
                priority,
                ingress_ns: now_ns,
                duplicator,
                peer: peer.map(|p| p as u8),
            };
            if !primary_alive {
                // The duplicate, if the scheme makes one, is now the only copy: it fails
                // over to its node's high-priority queue.
                match secondary {
                    Some(secondary) => {
                        meta::encap(
                            &mut pkt,
                            &stamp(CopyKind::Duplicate, Priority::High, None),
                            Steering {
                                node: secondary as u8,
                                queue: 0,
                            },
                        );
                        failovers += 1;
                        duplicates += 1;
                        self.stage(secondary, 0, pkt, bufs, idler)?;
                    }
                    None => {
                        unroutable += 1;
                        bufs.free(pkt);
                    }
                }
                continue;
            }
            if let (Some(priority), Some(secondary)) = (dup_priority, secondary) {
                let mut dup = bufs.alloc();
                dup.copy_from(&pkt);
                let queue = priority.queue();
                let staged_in = if rescue(secondary) {
                    rescued += 1;
                    RESCUE_QUEUE as u8
                } else {
                    queue
                };
                meta::encap(
                    &mut dup,
                    &stamp(CopyKind::Duplicate, priority, Some(primary)),
                    Steering {
                        node: secondary as u8,
                        queue,
                    },
                );
                duplicates += 1;
                self.stage(secondary, staged_in, dup, bufs, idler)?;
            }
            meta::encap(
                &mut pkt,
                &stamp(CopyKind::Primary, Priority::High, secondary),
                Steering {
                    node: primary as u8,
                    queue: 0,
                },
            );
            self.stage(primary, 0, pkt, bufs, idler)?;
        }
        let c = &self.counters;
        c.stage.received.add(received);
        c.stage.forwarded.add(received - unroutable);
        c.stage.dropped.add(DropReason::NodeDown, unroutable);
        c.duplicates.add(duplicates);
        c.failovers.add(failovers);
        c.not_hedged.add(not_hedged);
        c.guarded.add(guarded);
        c.rescued.add(rescued);
        self.flush(bufs, idler)
    }

    /// Counts one more primary staged for `node`'s queue 0 and says whether the queue
    /// will refuse it (no room left), where the queue tells its room. Out of room by
    /// the count made at the start of the batch, it looks again (the node may have
    /// taken packets since), less the primaries still staged.
    #[inline(always)]
    fn refuses_next(&mut self, node: usize) -> bool {
        match self.room[node] {
            None => false,
            Some(0) => {
                let fresh = self.outputs[node]
                    .primary
                    .room()
                    .unwrap_or(0)
                    .saturating_sub(self.staged[node][0].len());
                self.room[node] = Some(fresh.saturating_sub(1));
                fresh == 0
            }
            Some(left) => {
                self.room[node] = Some(left - 1);
                false
            }
        }
    }

    /// Every guard interval, pauses duplicates to nodes whose duplicate queue dropped
    /// more than the threshold since the last check, and resumes those whose pause
    /// ended.
    fn run_guard(&mut self, now_ns: u64) {
        let Some(guard) = self.config.guard else {
            return;
        };
        if now_ns < self.next_guard_check_ns {
            return;
        }
        let interval = guard.interval.as_nanos() as u64;
        self.next_guard_check_ns = now_ns + interval;
        for (node, state) in self.guard.iter_mut().enumerate() {
            let q = self.outputs[node].duplicate.counters();
            let sent = q.tx_packets.get();
            let dropped =
                q.dropped.get(DropReason::QueueOverflow) + q.dropped.get(DropReason::QueueFull);
            let (d_sent, mut d_dropped) = (sent - state.sent, dropped - state.dropped);
            state.sent = sent;
            state.dropped = dropped;
            if let Some(view) = self.remote.get(node) {
                // A node in another process: the duplicates it did not take in the
                // interval were dropped at its queue or still wait there.
                let taken = view.taken();
                let d_taken = taken.saturating_sub(state.taken);
                state.taken = taken;
                d_dropped += d_sent.saturating_sub(d_taken);
            }
            if now_ns < state.paused_until_ns {
                continue;
            }
            if d_sent > 0 && d_dropped as f64 > guard.drop_threshold * d_sent as f64 {
                state.backoff_ns =
                    (state.backoff_ns * 2).clamp(interval, guard.max_backoff.as_nanos() as u64);
                state.paused_until_ns = now_ns + state.backoff_ns;
                self.guard_pauses += 1;
                self.wants_duplicates[node] = false;
            } else {
                if d_sent > 0 {
                    state.backoff_ns = 0;
                }
                self.wants_duplicates[node] = true;
            }
        }
    }

    /// Adds a copy to a node queue's staging batch, sending the batch when it is full.
    #[inline(always)]
    fn stage(
        &mut self,
        node: usize,
        queue: u8,
        pkt: dataplane::PacketBuf,
        bufs: &mut BufCache,
        idler: &mut Idler,
    ) -> Result<(), PortError> {
        let batch = &mut self.staged[node][queue as usize];
        // Cannot fail: a full batch is sent right below, before the next push.
        let _ = batch.push(pkt);
        if batch.is_full() {
            self.send(node, queue as usize, bufs, idler)?;
        }
        Ok(())
    }

    /// Sends a staging batch; if the node turns out dead, drops what is left of it.
    #[inline(never)]
    fn send(
        &mut self,
        node: usize,
        queue: usize,
        bufs: &mut BufCache,
        idler: &mut Idler,
    ) -> Result<(), PortError> {
        let batch = &mut self.staged[node][queue];
        let staged = batch.len();
        let result = if self.alive[node] {
            let out = &mut self.outputs[node];
            let txq = match queue {
                0 => &mut out.primary,
                RESCUE_QUEUE => out
                    .rescue
                    .as_mut()
                    .expect("rescue copies are staged only for nodes with a rescue queue"),
                _ => &mut out.duplicate,
            };
            send_all(txq.as_mut(), batch, bufs, idler)
        } else {
            Ok(())
        };
        self.counters.copies_per_node[node][queue].add((staged - batch.len()) as u64);
        match result {
            Ok(()) | Err(PortError::PeerGone { .. }) => {
                if !batch.is_empty() {
                    self.alive[node] = false;
                    self.counters.copies_lost_per_node[node].add(batch.len() as u64);
                    batch.free_into(bufs);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Sends every staged copy.
    pub fn flush(&mut self, bufs: &mut BufCache, idler: &mut Idler) -> Result<(), PortError> {
        for node in 0..self.config.nodes {
            for queue in 0..=RESCUE_QUEUE {
                if !self.staged[node][queue].is_empty() {
                    self.send(node, queue, bufs, idler)?;
                }
            }
        }
        Ok(())
    }

    /// A copy of the counters.
    pub fn report(&self) -> DuplicatorReport {
        let c = &self.counters;
        let values = |v: &[Counter]| v.iter().map(Counter::get).collect();
        DuplicatorReport {
            scheme: self.config.scheme,
            counters: c.stage.snapshot(),
            duplicates: c.duplicates.get(),
            failovers: c.failovers.get(),
            not_hedged: c.not_hedged.get(),
            guarded: c.guarded.get(),
            guard_pauses: self.guard_pauses,
            rescued: c.rescued.get(),
            copies_per_node: c
                .copies_per_node
                .iter()
                .map(|q| q.each_ref().map(Counter::get))
                .collect(),
            copies_lost_per_node: values(&c.copies_lost_per_node),
            dead_nodes: (0..self.config.nodes).filter(|&n| !self.alive[n]).collect(),
        }
    }
}

impl DuplicatorReport {
    /// The reports of several duplicator cores added up (the scheme of the first).
    pub fn combine(reports: &[DuplicatorReport]) -> Option<DuplicatorReport> {
        let first = reports.first()?;
        let mut total = first.clone();
        for r in &reports[1..] {
            total.counters.received += r.counters.received;
            total.counters.forwarded += r.counters.forwarded;
            for (reason, n) in &r.counters.dropped {
                *total.counters.dropped.entry(reason.clone()).or_default() += n;
            }
            total.duplicates += r.duplicates;
            total.failovers += r.failovers;
            total.not_hedged += r.not_hedged;
            total.guarded += r.guarded;
            total.guard_pauses += r.guard_pauses;
            total.rescued += r.rescued;
            for (t, c) in total.copies_per_node.iter_mut().zip(&r.copies_per_node) {
                for (t, c) in t.iter_mut().zip(c) {
                    *t += c;
                }
            }
            for (t, l) in total
                .copies_lost_per_node
                .iter_mut()
                .zip(&r.copies_lost_per_node)
            {
                *t += l;
            }
            for &n in &r.dead_nodes {
                if !total.dead_nodes.contains(&n) {
                    total.dead_nodes.push(n);
                }
            }
        }
        total.dead_nodes.sort_unstable();
        Some(total)
    }
}
