//! Several receive queues served as one: round robin, one burst per call, ended when
//! every queue has ended. A node fed by several duplicator cores, or dedup fed by every
//! node, polls its queues this way. Queues may also come in tiers of strict priority
//! (a node's secondary instance serves its rescue queues before its duplicate queues).

use std::sync::Arc;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::doorbell::Doorbell;
use crate::port::{PortError, QueueStats, RxOutcome, RxQueue};

/// Receive queues polled in turn, tier by tier.
pub struct RxSet {
    queues: Vec<Box<dyn RxQueue>>,
    ended: Vec<bool>,
    /// Per tier, its queues' range in `queues` and the position in it to serve next.
    tiers: Vec<(std::ops::Range<usize>, usize)>,
}

impl RxSet {
    /// A set of `queues` served in turn (an empty set has ended).
    pub fn new(queues: Vec<Box<dyn RxQueue>>) -> Self {
        Self::tiered(vec![queues])
    }

    /// A set whose `tiers` have strict priority: a queue is served only while every
    /// queue of the tiers before its own is empty; the queues of one tier take turns.
    pub fn tiered(tiers: Vec<Vec<Box<dyn RxQueue>>>) -> Self {
        let mut queues = Vec::new();
        let mut ranges = Vec::new();
        for tier in tiers {
            let start = queues.len();
            queues.extend(tier);
            ranges.push((start..queues.len(), 0));
        }
        RxSet {
            ended: vec![false; queues.len()],
            queues,
            tiers: ranges,
        }
    }

    /// Receives one burst from the first tier with packets, from the next of its queues
    /// that has packets, starting after the queue of the tier served last, so no queue
    /// starves another of its tier. `Ended` once every queue has ended.
    pub fn rx_burst(
        &mut self,
        batch: &mut Batch,
        bufs: &mut BufCache,
    ) -> Result<RxOutcome, PortError> {
        for (range, next) in &mut self.tiers {
            let n = range.len();
            for i in 0..n {
                let at = (*next + i) % n;
                let q = range.start + at;
                if self.ended[q] {
                    continue;
                }
                match self.queues[q].rx_burst(batch, bufs)? {
                    RxOutcome::Received(got) => {
                        *next = (at + 1) % n;
                        return Ok(RxOutcome::Received(got));
                    }
                    RxOutcome::Ended => self.ended[q] = true,
                    RxOutcome::Idle => {}
                }
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

    #[test]
    fn a_tier_is_served_only_while_the_tiers_before_it_are_empty() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let cfg = RingQueueConfig::new(16, Overflow::Backpressure);
        let mut ports: Vec<RingPort> = (0..3)
            .map(|i| RingPort::new(&format!("p{i}"), &[cfg]).unwrap())
            .collect();
        let mut txs: Vec<_> = ports
            .iter_mut()
            .map(|p| p.take_tx_queue(0).unwrap())
            .collect();
        let mut rx = ports.iter_mut().map(|p| p.take_rx_queue(0).unwrap());
        // Tier 0: ports 0 and 1; tier 1 (behind an empty tier): port 2.
        let first = vec![rx.next().unwrap(), rx.next().unwrap()];
        let mut set = RxSet::tiered(vec![first, Vec::new(), vec![rx.next().unwrap()]]);
        let mut batch = Batch::with_capacity(1).unwrap();
        let mut send = |txs: &mut Vec<Box<dyn crate::port::TxQueue>>, port: usize, n: usize| {
            for _ in 0..n {
                batch.push(bufs.alloc_from(&[port as u8]).unwrap()).unwrap();
                txs[port].tx_burst(&mut batch, &mut bufs).unwrap();
            }
        };
        send(&mut txs, 2, 3);
        send(&mut txs, 0, 2);
        send(&mut txs, 1, 1);
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(1).unwrap();
        let mut order = Vec::new();
        let mut next = |set: &mut RxSet, order: &mut Vec<u8>| {
            let got = set.rx_burst(&mut batch, &mut bufs).unwrap();
            if let RxOutcome::Received(_) = got {
                order.push(batch.as_slice()[0].data()[0]);
                batch.free_into(&mut bufs);
            }
            got
        };
        // Tier 0 in turns until empty, then tier 1; a packet arriving in tier 0 again
        // comes before the rest of tier 1.
        for _ in 0..4 {
            next(&mut set, &mut order);
        }
        assert_eq!(order, vec![0, 1, 0, 2]);
        let mut batch = Batch::with_capacity(1).unwrap();
        let mut bufs2 = pool.cache();
        batch.push(bufs2.alloc_from(&[1]).unwrap()).unwrap();
        txs[1].tx_burst(&mut batch, &mut bufs2).unwrap();
        while let RxOutcome::Received(_) = next(&mut set, &mut order) {}
        assert_eq!(order, vec![0, 1, 0, 2, 1, 2, 2]);
        drop(txs);
        assert_eq!(next(&mut set, &mut order), RxOutcome::Ended);
        assert_eq!(set.stats().rx_packets, 7);
    }
}
