//! In-memory ring ports: the embedded default, like DPDK's `net_ring`.
//!
//! A [`RingPort`] is a loopback wire: what one thread transmits on queue `q` another
//! receives from queue `q`. Each queue is single-producer, single-consumer and moves
//! whole bursts. Its overflow policy says what a full queue does:
//!
//! - [`Overflow::Backpressure`]: the sender is told only part of the burst was taken and
//!   waits (lossless; the default for primaries);
//! - [`Overflow::DropTail`]: packets that do not fit are dropped and counted
//!   (`queue_full`), as a NIC ring does;
//! - [`Overflow::DropOldest`]: the oldest queued packets are evicted to make room and
//!   counted (`queue_overflow`): the bounded duplicate queue of DAS, where the newest
//!   duplicates are the likeliest to still be useful.
//!
//! Backpressure and drop-tail queues are `rtrb` rings moved in chunks; drop-oldest
//! queues are `crossbeam` array queues, whose `force_push` evicts the oldest element
//! safely while the consumer pops concurrently.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_queue::ArrayQueue;

use crate::batch::Batch;
use crate::buf::{BufCache, PacketBuf};
use crate::counters::DropReason;
use crate::doorbell::Doorbell;
use crate::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue, TxQueue};

/// What a full queue does with packets that do not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// The sender waits (lossless).
    #[default]
    Backpressure,
    /// Arriving packets that do not fit are dropped.
    DropTail,
    /// The oldest queued packets are evicted to make room.
    DropOldest,
}

/// Settings of one ring queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingQueueConfig {
    /// Most packets the queue holds.
    pub capacity: usize,
    /// What happens when it is full.
    pub overflow: Overflow,
}

impl RingQueueConfig {
    /// A queue of `capacity` packets with the given overflow policy.
    pub fn new(capacity: usize, overflow: Overflow) -> Self {
        RingQueueConfig { capacity, overflow }
    }
}

/// State shared by both ends of one queue.
#[derive(Debug, Default)]
struct Link {
    counters: Arc<QueueCounters>,
    consumer_bell: OnceLock<Arc<Doorbell>>,
    producer_bell: OnceLock<Arc<Doorbell>>,
    producer_waiting: AtomicBool,
    /// The sender is gone (end of stream).
    closed: AtomicBool,
    /// The receiver is gone (its thread stopped): sends fail with `PeerGone`.
    rx_closed: AtomicBool,
}

impl Link {
    #[inline]
    fn wake_consumer(&self) {
        if let Some(bell) = self.consumer_bell.get() {
            bell.ring();
        }
    }

    #[inline]
    fn wake_producer(&self) {
        if self.producer_waiting.load(Ordering::Relaxed) {
            self.producer_waiting.store(false, Ordering::Relaxed);
            if let Some(bell) = self.producer_bell.get() {
                bell.ring();
            }
        }
    }
}

/// An in-memory port whose transmit queue `q` feeds its receive queue `q`.
pub struct RingPort {
    queues: PortQueues,
}

impl RingPort {
    /// A port with one queue per entry of `queues`.
    pub fn new(name: &str, queues: &[RingQueueConfig]) -> Result<Self, PortError> {
        if queues.is_empty() {
            return Err(PortError::Config {
                port: name.to_string(),
                reason: "a ring port needs at least one queue".into(),
            });
        }
        let mut rx: Vec<Box<dyn RxQueue>> = Vec::new();
        let mut tx: Vec<Box<dyn TxQueue>> = Vec::new();
        let mut counters = Vec::new();
        for (q, cfg) in queues.iter().enumerate() {
            if cfg.capacity == 0 {
                return Err(PortError::Config {
                    port: name.to_string(),
                    reason: format!("queue {q}: capacity must be at least 1"),
                });
            }
            let link = Arc::new(Link::default());
            counters.push(link.counters.clone());
            match cfg.overflow {
                Overflow::Backpressure | Overflow::DropTail => {
                    let (producer, consumer) = rtrb::RingBuffer::new(cfg.capacity);
                    tx.push(Box::new(SpscTx {
                        port: name.to_string(),
                        queue: q,
                        producer,
                        link: link.clone(),
                        drop_tail: cfg.overflow == Overflow::DropTail,
                    }));
                    rx.push(Box::new(SpscRx { consumer, link }));
                }
                Overflow::DropOldest => {
                    let ring = Arc::new(ArrayQueue::new(cfg.capacity));
                    tx.push(Box::new(EvictingTx {
                        port: name.to_string(),
                        queue: q,
                        ring: ring.clone(),
                        link: link.clone(),
                    }));
                    rx.push(Box::new(EvictingRx { ring, link }));
                }
            }
        }
        Ok(RingPort {
            queues: PortQueues::new(name, rx, tx, counters),
        })
    }
}

impl Port for RingPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

struct SpscTx {
    port: String,
    queue: usize,
    producer: rtrb::Producer<PacketBuf>,
    link: Arc<Link>,
    drop_tail: bool,
}

impl TxQueue for SpscTx {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        if self.producer.is_abandoned() {
            return Err(PortError::PeerGone {
                port: self.port.clone(),
                queue: self.queue,
            });
        }
        let wanted = batch.len();
        let mut room = self.producer.slots().min(wanted);
        if room < wanted && !self.drop_tail {
            // Announce the wait before re-reading the free slots, so a consumer that frees
            // room in between is sure to see the flag and ring.
            self.link.producer_waiting.store(true, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::SeqCst);
            room = self.producer.slots().min(wanted);
            if room == wanted {
                self.link.producer_waiting.store(false, Ordering::Relaxed);
            }
        }
        if room > 0 {
            let bytes: u64 = batch.as_slice()[..room]
                .iter()
                .map(|p| p.len() as u64)
                .sum();
            let chunk = self
                .producer
                .write_chunk_uninit(room)
                .expect("room never exceeds the free slots");
            chunk.fill_from_iter(batch.drain_front(room));
            self.link.counters.count_tx(room, bytes);
            self.link.wake_consumer();
        }
        if self.drop_tail && room < wanted {
            // Refused packets count as sent to this queue and dropped by it, so that on
            // every queue tx_packets = rx_packets + dropped (+ still queued).
            let dropped = wanted - room;
            let bytes = batch.as_slice()[..dropped]
                .iter()
                .map(|p| p.len() as u64)
                .sum();
            bufs.free_all(batch.drain_front(dropped));
            self.link.counters.count_tx(dropped, bytes);
            self.link
                .counters
                .count_drop(DropReason::QueueFull, dropped as u64);
            return Ok(wanted);
        }
        Ok(room)
    }

    fn set_doorbell(&mut self, bell: Arc<Doorbell>) {
        let _ = self.link.producer_bell.set(bell);
    }

    fn depth(&self) -> Option<usize> {
        Some(self.producer.buffer().capacity() - self.producer.slots())
    }

    fn room(&self) -> Option<usize> {
        Some(self.producer.slots())
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.link.counters.clone()
    }
}

impl Drop for SpscTx {
    fn drop(&mut self) {
        self.link.closed.store(true, Ordering::Release);
        self.link.wake_consumer();
    }
}

struct SpscRx {
    consumer: rtrb::Consumer<PacketBuf>,
    link: Arc<Link>,
}

impl RxQueue for SpscRx {
    fn rx_burst(
        &mut self,
        batch: &mut Batch,
        _bufs: &mut BufCache,
    ) -> Result<RxOutcome, PortError> {
        // Read the closed flag before the slots: a producer that closes after its last
        // write is then seen with that write.
        let closed = self.link.closed.load(Ordering::Acquire);
        let n = self.consumer.slots().min(batch.room());
        if n == 0 {
            return Ok(if closed && self.consumer.is_empty() {
                RxOutcome::Ended
            } else {
                RxOutcome::Idle
            });
        }
        let chunk = self
            .consumer
            .read_chunk(n)
            .expect("n never exceeds the filled slots");
        let mut bytes = 0u64;
        for pkt in chunk {
            bytes += pkt.len() as u64;
            // Cannot fail: n <= room.
            let _ = batch.push(pkt);
        }
        self.link.counters.count_rx(n, bytes);
        self.link.wake_producer();
        Ok(RxOutcome::Received(n))
    }

    fn set_doorbell(&mut self, bell: Arc<Doorbell>) {
        let _ = self.link.consumer_bell.set(bell);
    }

    fn depth(&self) -> Option<usize> {
        Some(self.consumer.slots())
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.link.counters.clone()
    }
}

struct EvictingTx {
    port: String,
    queue: usize,
    ring: Arc<ArrayQueue<PacketBuf>>,
    link: Arc<Link>,
}

impl TxQueue for EvictingTx {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        if self.link.rx_closed.load(Ordering::Acquire) {
            return Err(PortError::PeerGone {
                port: self.port.clone(),
                queue: self.queue,
            });
        }
        let n = batch.len();
        let mut bytes = 0u64;
        let mut evicted = 0u64;
        for pkt in batch.drain() {
            bytes += pkt.len() as u64;
            if let Some(old) = self.ring.force_push(pkt) {
                bufs.free(old);
                evicted += 1;
            }
        }
        self.link.counters.count_tx(n, bytes);
        if evicted > 0 {
            self.link
                .counters
                .count_drop(DropReason::QueueOverflow, evicted);
        }
        if n > 0 {
            self.link.wake_consumer();
        }
        Ok(n)
    }

    fn depth(&self) -> Option<usize> {
        Some(self.ring.len())
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.link.counters.clone()
    }
}

impl Drop for EvictingTx {
    fn drop(&mut self) {
        self.link.closed.store(true, Ordering::Release);
        self.link.wake_consumer();
    }
}

struct EvictingRx {
    ring: Arc<ArrayQueue<PacketBuf>>,
    link: Arc<Link>,
}

impl Drop for EvictingRx {
    fn drop(&mut self) {
        self.link.rx_closed.store(true, Ordering::Release);
    }
}

impl RxQueue for EvictingRx {
    fn rx_burst(
        &mut self,
        batch: &mut Batch,
        _bufs: &mut BufCache,
    ) -> Result<RxOutcome, PortError> {
        let closed = self.link.closed.load(Ordering::Acquire);
        let mut n = 0;
        let mut bytes = 0u64;
        while n < batch.room() {
            match self.ring.pop() {
                Some(pkt) => {
                    bytes += pkt.len() as u64;
                    let _ = batch.push(pkt);
                    n += 1;
                }
                None => break,
            }
        }
        if n == 0 {
            return Ok(if closed && self.ring.is_empty() {
                RxOutcome::Ended
            } else {
                RxOutcome::Idle
            });
        }
        self.link.counters.count_rx(n, bytes);
        Ok(RxOutcome::Received(n))
    }

    fn set_doorbell(&mut self, bell: Arc<Doorbell>) {
        let _ = self.link.consumer_bell.set(bell);
    }

    fn depth(&self) -> Option<usize> {
        Some(self.ring.len())
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.link.counters.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufPool;

    fn frames(batch: &Batch) -> Vec<u8> {
        batch.iter().map(|p| p.data()[0]).collect()
    }

    fn fill(batch: &mut Batch, bufs: &mut BufCache, values: impl IntoIterator<Item = u8>) {
        for v in values {
            batch.push(bufs.alloc_from(&[v]).unwrap()).unwrap();
        }
    }

    #[test]
    fn backpressure_takes_what_fits_and_keeps_the_rest_in_order() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut port =
            RingPort::new("p", &[RingQueueConfig::new(4, Overflow::Backpressure)]).unwrap();
        let mut tx = port.take_tx_queue(0).unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let mut batch = Batch::with_capacity(8).unwrap();
        fill(&mut batch, &mut bufs, 0..6);
        assert_eq!(tx.tx_burst(&mut batch, &mut bufs).unwrap(), 4);
        assert_eq!(frames(&batch), vec![4, 5]);
        assert_eq!(rx.depth(), Some(4));
        assert_eq!(tx.depth(), Some(4));
        let mut got = Batch::with_capacity(8).unwrap();
        assert_eq!(
            rx.rx_burst(&mut got, &mut bufs).unwrap(),
            RxOutcome::Received(4)
        );
        assert_eq!(frames(&got), vec![0, 1, 2, 3]);
        let stats = port.stats();
        assert_eq!(stats.queues[0].tx_packets, 4);
        assert_eq!(stats.queues[0].rx_packets, 4);
    }

    #[test]
    fn drop_tail_counts_refused_packets() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut port = RingPort::new("p", &[RingQueueConfig::new(2, Overflow::DropTail)]).unwrap();
        let mut tx = port.take_tx_queue(0).unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let mut batch = Batch::with_capacity(8).unwrap();
        fill(&mut batch, &mut bufs, 0..5);
        assert_eq!(tx.tx_burst(&mut batch, &mut bufs).unwrap(), 5);
        assert!(batch.is_empty());
        let mut got = Batch::with_capacity(8).unwrap();
        rx.rx_burst(&mut got, &mut bufs).unwrap();
        assert_eq!(frames(&got), vec![0, 1]);
        assert_eq!(
            port.stats().queues[0].dropped.get("queue_full").copied(),
            Some(3)
        );
        assert_eq!(port.stats().queues[0].tx_packets, 5);
    }

    #[test]
    fn drop_oldest_keeps_the_newest() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut port =
            RingPort::new("p", &[RingQueueConfig::new(3, Overflow::DropOldest)]).unwrap();
        let mut tx = port.take_tx_queue(0).unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let mut batch = Batch::with_capacity(8).unwrap();
        fill(&mut batch, &mut bufs, 0..5);
        assert_eq!(tx.tx_burst(&mut batch, &mut bufs).unwrap(), 5);
        let mut got = Batch::with_capacity(8).unwrap();
        assert_eq!(rx.depth(), Some(3));
        rx.rx_burst(&mut got, &mut bufs).unwrap();
        assert_eq!(rx.depth(), Some(0));
        assert_eq!(frames(&got), vec![2, 3, 4]);
        let q = &port.stats().queues[0];
        assert_eq!(q.dropped.get("queue_overflow").copied(), Some(2));
        assert_eq!(q.tx_packets, q.rx_packets + 2);
    }

    #[test]
    fn closing_the_sender_ends_the_receiver_after_draining() {
        for overflow in [Overflow::Backpressure, Overflow::DropOldest] {
            let pool = BufPool::default();
            let mut bufs = pool.cache();
            let mut port = RingPort::new("p", &[RingQueueConfig::new(4, overflow)]).unwrap();
            let mut tx = port.take_tx_queue(0).unwrap();
            let mut rx = port.take_rx_queue(0).unwrap();
            let mut batch = Batch::with_capacity(4).unwrap();
            let mut got = Batch::with_capacity(4).unwrap();
            assert_eq!(rx.rx_burst(&mut got, &mut bufs).unwrap(), RxOutcome::Idle);
            fill(&mut batch, &mut bufs, 0..2);
            tx.tx_burst(&mut batch, &mut bufs).unwrap();
            drop(tx);
            assert_eq!(
                rx.rx_burst(&mut got, &mut bufs).unwrap(),
                RxOutcome::Received(2)
            );
            got.free_into(&mut bufs);
            assert_eq!(rx.rx_burst(&mut got, &mut bufs).unwrap(), RxOutcome::Ended);
        }
    }

    #[test]
    fn queues_are_taken_once_and_bad_configs_refused() {
        let mut port =
            RingPort::new("p", &[RingQueueConfig::new(4, Overflow::Backpressure)]).unwrap();
        assert!(port.take_rx_queue(0).is_ok());
        assert!(matches!(
            port.take_rx_queue(0),
            Err(PortError::QueueTaken { .. })
        ));
        assert!(matches!(
            port.take_tx_queue(1),
            Err(PortError::NoSuchQueue { .. })
        ));
        assert!(RingPort::new("p", &[]).is_err());
        assert!(RingPort::new("p", &[RingQueueConfig::new(0, Overflow::DropTail)]).is_err());
    }

    #[test]
    fn sending_to_a_dropped_receiver_is_an_error() {
        for overflow in [
            Overflow::Backpressure,
            Overflow::DropTail,
            Overflow::DropOldest,
        ] {
            let pool = BufPool::default();
            let mut bufs = pool.cache();
            let mut port = RingPort::new("p", &[RingQueueConfig::new(4, overflow)]).unwrap();
            let mut tx = port.take_tx_queue(0).unwrap();
            drop(port.take_rx_queue(0).unwrap());
            let mut batch = Batch::with_capacity(4).unwrap();
            fill(&mut batch, &mut bufs, 0..1);
            assert!(
                matches!(
                    tx.tx_burst(&mut batch, &mut bufs),
                    Err(PortError::PeerGone { .. })
                ),
                "{overflow:?}"
            );
            assert_eq!(
                batch.len(),
                1,
                "{overflow:?}: the packet stays with the sender"
            );
        }
    }
}
