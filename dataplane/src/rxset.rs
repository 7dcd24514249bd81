//! Several receive queues served as one: round robin, one burst per call, ended when
//! every queue has ended. A node fed by several duplicator cores, or dedup fed by every
//! node, polls its queues this way.

use std::sync::Arc;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::doorbell::Doorbell;
use crate::port::{PortError, QueueStats, RxOutcome, RxQueue};

/// Receive queues polled in turn.
pub struct RxSet {
    queues: Vec<Box<dyn RxQueue>>,
    ended: Vec<bool>,
    next: usize,
}

impl RxSet {
    /// A set of `queues` (an empty set has ended).
    pub fn new(queues: Vec<Box<dyn RxQueue>>) -> Self {
        RxSet {
            ended: vec![false; queues.len()],
            queues,
            next: 0,
        }
    }

    /// Receives one burst from the next queue that has packets, starting after the queue
    /// served last, so no queue starves another. `Ended` once every queue has ended.
    pub fn rx_burst(
        &mut self,
        batch: &mut Batch,
        bufs: &mut BufCache,
    ) -> Result<RxOutcome, PortError> {
        let n = self.queues.len();
        for i in 0..n {
            let q = (self.next + i) % n;
            if self.ended[q] {
                continue;
            }
            match self.queues[q].rx_burst(batch, bufs)? {
                RxOutcome::Received(got) => {
                    self.next = (q + 1) % n;
                    return Ok(RxOutcome::Received(got));
                }
                RxOutcome::Ended => self.ended[q] = true,
                RxOutcome::Idle => {}
            }
        }
        Ok(if self.ended.iter().all(|&e| e) {
            RxOutcome::Ended
        } else {
            RxOutcome::Idle
        })
    }

    /// Registers the serving thread's doorbell with every queue.
    pub fn set_doorbell(&mut self, bell: &Arc<Doorbell>) {
        for q in &mut self.queues {
            q.set_doorbell(bell.clone());
        }
    }

    /// Packets waiting in all the queues, where every backend can tell.
    pub fn depth(&self) -> Option<usize> {
        self.queues.iter().map(|q| q.depth()).sum()
    }

    /// The queues' counters, added up.
    pub fn stats(&self) -> QueueStats {
        let mut total = QueueStats::default();
        for q in &self.queues {
            total.add(&q.counters().snapshot());
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufPool;
    use crate::port::Port;
    use crate::ring::{Overflow, RingPort, RingQueueConfig};

    #[test]
    fn queues_take_turns_and_the_set_ends_with_the_last() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let cfg = RingQueueConfig::new(16, Overflow::Backpressure);
        let mut a = RingPort::new("a", &[cfg]).unwrap();
        let mut b = RingPort::new("b", &[cfg]).unwrap();
        let (mut ta, mut tb) = (a.take_tx_queue(0).unwrap(), b.take_tx_queue(0).unwrap());
        let mut set = RxSet::new(vec![
            a.take_rx_queue(0).unwrap(),
            b.take_rx_queue(0).unwrap(),
        ]);
        let mut batch = Batch::with_capacity(2).unwrap();
        for (tx, v) in [(&mut ta, 1u8), (&mut tb, 2u8)] {
            for _ in 0..4 {
                batch.push(bufs.alloc_from(&[v]).unwrap()).unwrap();
                tx.tx_burst(&mut batch, &mut bufs).unwrap();
            }
        }
        assert_eq!(set.depth(), Some(8));
        let mut order = Vec::new();
        while let RxOutcome::Received(_) = set.rx_burst(&mut batch, &mut bufs).unwrap() {
            order.push(batch.as_slice()[0].data()[0]);
            batch.free_into(&mut bufs);
        }
        assert_eq!(order, vec![1, 2, 1, 2]);
        drop(ta);
        assert_eq!(
            set.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Idle
        );
        drop(tb);
        assert_eq!(
            set.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Ended
        );
        assert_eq!(set.stats().rx_packets, 8);
        assert_eq!(
            RxSet::new(Vec::new())
                .rx_burst(&mut batch, &mut bufs)
                .unwrap(),
            RxOutcome::Ended
        );
    }
}
