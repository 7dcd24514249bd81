//! The duplicator D-Stage: dispatch each packet to its flow's primary node and, by
//! scheme, a copy to a different node.

use dataplane::counters::{Counter, StageCounters, StageSnapshot};
use dataplane::flow::{Toeplitz, frame_hash};
use dataplane::meta::{self, CopyKind, JobId, JobMeta, Priority, Steering};
use dataplane::port::send_all;
use dataplane::{Batch, BufCache, Idler, PortError, TxQueue};

use crate::scheme::Scheme;
use crate::select::{NodeTable, SelectError};

/// Duplicator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicatorConfig {
    /// This duplicator's id, stamped in every copy (job ids are unique per duplicator).
    pub id: u8,
    /// Number of IDS nodes.
    pub nodes: usize,
    /// Which copies to make.
    pub scheme: Scheme,
    /// Packets per batch sent to a node queue.
    pub batch: usize,
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

/// The two transmit queues towards one node.
pub struct NodeOutput {
    /// Towards the node's queue 0 (high priority).
    pub primary: Box<dyn TxQueue>,
    /// Towards the node's queue 1 (low priority, bounded).
    pub duplicate: Box<dyn TxQueue>,
}

/// The duplicator's counters, readable while it runs.
#[derive(Debug)]
pub struct DuplicatorCounters {
    /// Packets received, primaries forwarded (one per packet).
    pub stage: StageCounters,
    /// Duplicate copies made and sent.
    pub duplicates: Counter,
    /// Per node: primaries sent to it.
    pub primaries_per_node: Vec<Counter>,
    /// Per node: duplicates sent to it.
    pub duplicates_per_node: Vec<Counter>,
}

/// A copy of [`DuplicatorCounters`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicatorReport {
    /// The scheme.
    pub scheme: Scheme,
    /// Packets received, primaries forwarded.
    pub counters: StageSnapshot,
    /// Duplicate copies sent.
    pub duplicates: u64,
    /// Primaries sent to each node.
    pub primaries_per_node: Vec<u64>,
    /// Duplicates sent to each node.
    pub duplicates_per_node: Vec<u64>,
}

/// The duplicator stage.
pub struct Duplicator {
    config: DuplicatorConfig,
    table: NodeTable,
    hasher: Toeplitz,
    next_job: u64,
    outputs: Vec<NodeOutput>,
    /// Per node, copies waiting for queue 0 and queue 1.
    staged: Vec<[Batch; 2]>,
    /// Per node, primaries and duplicates sent since the counters were last published
    /// (published once per dispatch, not per packet).
    unpublished: Vec<[u64; 2]>,
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
                ])
            })
            .collect::<Result<_, dataplane::batch::BatchError>>()?;
        let per_node = || (0..config.nodes).map(|_| Counter::default()).collect();
        Ok(Duplicator {
            config,
            table,
            hasher: Toeplitz::symmetric(),
            next_job: 0,
            outputs,
            staged,
            unpublished: vec![[0; 2]; config.nodes],
            counters: std::sync::Arc::new(DuplicatorCounters {
                stage: StageCounters::default(),
                duplicates: Counter::default(),
                primaries_per_node: per_node(),
                duplicates_per_node: per_node(),
            }),
        })
    }

    /// The live counters.
    pub fn counters(&self) -> std::sync::Arc<DuplicatorCounters> {
        self.counters.clone()
    }

    /// The outputs, for registering a doorbell.
    pub fn outputs_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn TxQueue>> {
        self.outputs
            .iter_mut()
            .flat_map(|o| [&mut o.primary, &mut o.duplicate])
    }

    /// Dispatches every packet of `input`: stamps a job id and `now_ns` as ingress time,
    /// sends the primary copy to the flow's primary node and, by scheme, a duplicate to
    /// a different node. Sends block while a high-priority queue is full (lossless
    /// backpressure, waiting on `idler`); the duplicate queue's own policy decides what
    /// happens when it is full.
    pub fn dispatch(
        &mut self,
        input: &mut Batch,
        bufs: &mut BufCache,
        idler: &mut Idler,
        now_ns: u64,
    ) -> Result<(), PortError> {
        let received = input.len() as u64;
        let dup_priority = self.config.scheme.duplicate_priority();
        let mut duplicates = 0u64;
        let duplicator = self.config.id;
        for mut pkt in input.drain() {
            let hash = frame_hash(&self.hasher, pkt.data());
            let primary = self.table.primary(hash);
            let job = JobId(self.next_job);
            self.next_job += 1;
            let stamp = |kind, priority| JobMeta {
                job,
                kind,
                priority,
                ingress_ns: now_ns,
                duplicator,
            };
            if let (Some(priority), Some(secondary)) =
                (dup_priority, self.table.secondary(hash, primary))
            {
                let mut dup = bufs.alloc();
                dup.copy_from(&pkt);
                let queue = priority.queue();
                meta::encap(
                    &mut dup,
                    &stamp(CopyKind::Duplicate, priority),
                    Steering {
                        node: secondary as u8,
                        queue,
                    },
                );
                self.unpublished[secondary][1] += 1;
                duplicates += 1;
                self.stage(secondary, queue, dup, bufs, idler)?;
            }
            meta::encap(
                &mut pkt,
                &stamp(CopyKind::Primary, Priority::High),
                Steering {
                    node: primary as u8,
                    queue: 0,
                },
            );
            self.unpublished[primary][0] += 1;
            self.stage(primary, 0, pkt, bufs, idler)?;
        }
        self.counters.stage.received.add(received);
        self.counters.stage.forwarded.add(received);
        self.counters.duplicates.add(duplicates);
        for (node, counts) in self.unpublished.iter_mut().enumerate() {
            if counts[0] > 0 {
                self.counters.primaries_per_node[node].add(counts[0]);
            }
            if counts[1] > 0 {
                self.counters.duplicates_per_node[node].add(counts[1]);
            }
            *counts = [0; 2];
        }
        self.flush(bufs, idler)
    }

    /// Adds a copy to a node queue's staging batch, sending the batch when it is full.
    #[inline]
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

    fn send(
        &mut self,
        node: usize,
        queue: usize,
        bufs: &mut BufCache,
        idler: &mut Idler,
    ) -> Result<(), PortError> {
        let batch = &mut self.staged[node][queue];
        let out = &mut self.outputs[node];
        let txq = if queue == 0 {
            &mut out.primary
        } else {
            &mut out.duplicate
        };
        send_all(txq.as_mut(), batch, bufs, idler)
    }

    /// Sends every staged copy.
    pub fn flush(&mut self, bufs: &mut BufCache, idler: &mut Idler) -> Result<(), PortError> {
        for node in 0..self.config.nodes {
            for queue in 0..2 {
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
            primaries_per_node: values(&c.primaries_per_node),
            duplicates_per_node: values(&c.duplicates_per_node),
        }
    }
}
