//! The port abstraction: batched receive and transmit per queue, several queues per
//! port, counters per queue.
//!
//! A port is the only thing a stage talks to. Its queues are taken out of it and moved
//! to the threads that serve them (as DPDK hands an lcore a queue id); the port keeps a
//! handle on every queue's counters so it can report them while the threads run.
//! Backends: in-memory rings ([`crate::ring`]), a null sink ([`crate::null`]) and pcap
//! files ([`crate::pcap`]); AF_PACKET, AF_XDP, DPDK and netmap implement the same traits.

use std::sync::Arc;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::counters::{Counter, DropCounters, DropReason};
use crate::doorbell::Doorbell;

/// Errors from ports.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The port has no such queue.
    #[error("port {port}: no {dir} queue {queue} (it has {count})")]
    NoSuchQueue {
        /// Port name.
        port: String,
        /// "rx" or "tx".
        dir: &'static str,
        /// Queue asked for.
        queue: usize,
        /// Queues the port has in that direction.
        count: usize,
    },
    /// The queue was already taken by a thread.
    #[error("port {port}: {dir} queue {queue} was already taken")]
    QueueTaken {
        /// Port name.
        port: String,
        /// "rx" or "tx".
        dir: &'static str,
        /// Queue asked for.
        queue: usize,
    },
    /// The other end of an in-memory link is gone: its thread stopped.
    #[error("port {port}: queue {queue}: the receiving end is gone")]
    PeerGone {
        /// Port name.
        port: String,
        /// Queue.
        queue: usize,
    },
    /// A configuration the port cannot honour.
    #[error("port {port}: {reason}")]
    Config {
        /// Port name.
        port: String,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error of the port's backend.
    #[error("port {port}: {context}: {source}")]
    Io {
        /// Port name.
        port: String,
        /// What the port was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A capture file that cannot be read.
    #[error("port {port}: {path}: {reason}")]
    Capture {
        /// Port name.
        port: String,
        /// File.
        path: String,
        /// What is wrong, with the byte offset where known.
        reason: String,
    },
}

/// What a receive call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxOutcome {
    /// This many packets were appended to the batch (at least one).
    Received(usize),
    /// Nothing right now; more may come.
    Idle,
    /// Nothing now or ever: the source ended (end of file, link closed).
    Ended,
}

/// Counters of one queue of a port, shared by the thread that serves the queue and
/// the reporting thread.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Packets received from this queue.
    pub rx_packets: Counter,
    /// Bytes received from this queue.
    pub rx_bytes: Counter,
    /// Packets transmitted on this queue: every packet the queue took from a sender,
    /// including those its overflow policy then dropped, so that once the queue is
    /// drained `tx_packets = rx_packets + dropped`.
    pub tx_packets: Counter,
    /// Bytes transmitted on this queue.
    pub tx_bytes: Counter,
    /// Packets the queue dropped, by reason.
    pub dropped: DropCounters,
}

impl QueueCounters {
    /// A copy for reports.
    pub fn snapshot(&self) -> QueueStats {
        QueueStats {
            rx_packets: self.rx_packets.get(),
            rx_bytes: self.rx_bytes.get(),
            tx_packets: self.tx_packets.get(),
            tx_bytes: self.tx_bytes.get(),
            dropped: self.dropped.snapshot(),
        }
    }

    /// Counts a received batch of `packets` packets and `bytes` bytes.
    #[inline]
    pub fn count_rx(&self, packets: usize, bytes: u64) {
        self.rx_packets.add(packets as u64);
        self.rx_bytes.add(bytes);
    }

    /// Counts a transmitted batch of `packets` packets and `bytes` bytes.
    #[inline]
    pub fn count_tx(&self, packets: usize, bytes: u64) {
        self.tx_packets.add(packets as u64);
        self.tx_bytes.add(bytes);
    }

    /// Counts `n` drops for `reason`.
    #[inline]
    pub fn count_drop(&self, reason: DropReason, n: u64) {
        self.dropped.add(reason, n);
    }
}

/// A copy of one queue's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Drops by reason name.
    pub dropped: std::collections::BTreeMap<String, u64>,
}

impl QueueStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &QueueStats) {
        self.rx_packets += other.rx_packets;
        self.rx_bytes += other.rx_bytes;
        self.tx_packets += other.tx_packets;
        self.tx_bytes += other.tx_bytes;
        for (reason, n) in &other.dropped {
            *self.dropped.entry(reason.clone()).or_default() += n;
        }
    }
}

/// A copy of a port's counters, queue by queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortStats {
    /// Port name.
    pub name: String,
    /// One entry per queue.
    pub queues: Vec<QueueStats>,
}

/// The receive side of one queue, owned by the thread that serves it.
pub trait RxQueue: Send {
    /// Appends up to `batch.room()` packets to `batch`, taking buffers from `bufs` where
    /// the backend copies frames in.
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError>;

    /// Registers the serving thread's doorbell, rung when packets arrive. Backends that
    /// cannot ring ignore it (the thread then wakes on its sleep timeout).
    fn set_doorbell(&mut self, _bell: Arc<Doorbell>) {}

    /// Packets waiting in the queue, where the backend can tell.
    fn depth(&self) -> Option<usize> {
        None
    }

    /// This queue's counters.
    fn counters(&self) -> Arc<QueueCounters>;
}

/// The transmit side of one queue, owned by the thread that serves it.
pub trait TxQueue: Send {
    /// Sends packets from the front of `batch` and returns how many the port took (sent,
    /// or dropped by the port's own overflow policy and counted). Packets not taken stay
    /// at the front of the batch, in order, for the caller to retry; `bufs` receives the
    /// buffers the port is done with.
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError>;

    /// Pushes out anything the backend buffered.
    fn flush(&mut self) -> Result<(), PortError> {
        Ok(())
    }

    /// Registers the serving thread's doorbell, rung when room frees up after a
    /// `tx_burst` that could not take everything.
    fn set_doorbell(&mut self, _bell: Arc<Doorbell>) {}

    /// Packets sent and not yet taken by the receiver, where the backend can tell (the
    /// receiver's queue depth as the sender sees it).
    fn depth(&self) -> Option<usize> {
        None
    }

    /// Free slots in the receiver's queue as the sender sees them, where the backend
    /// can tell: a burst of at most this many is taken whole (the receiver may free
    /// more meanwhile, never less).
    fn room(&self) -> Option<usize> {
        None
    }

    /// This queue's counters.
    fn counters(&self) -> Arc<QueueCounters>;
}

/// A port: a named set of receive and transmit queues.
///
/// A backend makes its queues when the port is opened and keeps them in a
/// [`PortQueues`]; the queue-handling methods come from there.
pub trait Port: Send {
    /// The port's queues (and the counters it keeps after they are taken).
    fn queues(&self) -> &PortQueues;

    /// The port's queues, to take them out.
    fn queues_mut(&mut self) -> &mut PortQueues;

    /// The port's name in reports and errors.
    fn name(&self) -> &str {
        &self.queues().name
    }

    /// Number of receive queues.
    fn rx_queue_count(&self) -> usize {
        self.queues().rx.len()
    }

    /// Number of transmit queues.
    fn tx_queue_count(&self) -> usize {
        self.queues().tx.len()
    }

    /// Takes receive queue `queue` out of the port, to move it to its thread.
    fn take_rx_queue(&mut self, queue: usize) -> Result<Box<dyn RxQueue>, PortError> {
        let q = self.queues_mut();
        take(&q.name, "rx", &mut q.rx, queue)
    }

    /// Takes transmit queue `queue` out of the port, to move it to its thread.
    fn take_tx_queue(&mut self, queue: usize) -> Result<Box<dyn TxQueue>, PortError> {
        let q = self.queues_mut();
        take(&q.name, "tx", &mut q.tx, queue)
    }

    /// The counters of every queue.
    fn stats(&self) -> PortStats {
        let q = self.queues();
        PortStats {
            name: q.name.clone(),
            queues: q.counters.iter().map(|c| c.snapshot()).collect(),
        }
    }
}

/// The queues of a port, made up front and handed out once each, and the counters of
/// every queue index (a queue's receive and transmit sides share one entry).
pub struct PortQueues {
    name: String,
    rx: Vec<Option<Box<dyn RxQueue>>>,
    tx: Vec<Option<Box<dyn TxQueue>>>,
    counters: Vec<Arc<QueueCounters>>,
}

impl PortQueues {
    /// Queues named after the port `name`; `counters` has one entry per queue index.
    pub fn new(
        name: &str,
        rx: Vec<Box<dyn RxQueue>>,
        tx: Vec<Box<dyn TxQueue>>,
        counters: Vec<Arc<QueueCounters>>,
    ) -> Self {
        PortQueues {
            name: name.to_string(),
            rx: rx.into_iter().map(Some).collect(),
            tx: tx.into_iter().map(Some).collect(),
            counters,
        }
    }
}

fn take<T>(
    port: &str,
    dir: &'static str,
    slots: &mut [Option<T>],
    queue: usize,
) -> Result<T, PortError> {
    let count = slots.len();
    let slot = slots.get_mut(queue).ok_or(PortError::NoSuchQueue {
        port: port.to_string(),
        dir,
        queue,
        count,
    })?;
    slot.take().ok_or(PortError::QueueTaken {
        port: port.to_string(),
        dir,
        queue,
    })
}

/// Sends all of `batch` on `txq`, waiting on `idler` while the queue is full (lossless
/// backpressure). Returns early with an error if the receiving end is gone.
pub fn send_all(
    txq: &mut dyn TxQueue,
    batch: &mut Batch,
    bufs: &mut BufCache,
    idler: &mut crate::doorbell::Idler,
) -> Result<(), PortError> {
    while !batch.is_empty() {
        let sent = txq.tx_burst(batch, bufs)?;
        if sent == 0 {
            idler.idle();
        } else {
            idler.busy();
        }
    }
    Ok(())
}
