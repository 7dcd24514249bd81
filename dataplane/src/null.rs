//! The null port, like DPDK's `net_null`: its transmit queues count and free every packet,
//! its receive queues have ended before they start. A sink for benchmarks and for runs
//! that need no output file.

use std::sync::Arc;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue, TxQueue};

/// A port that swallows what it is sent.
pub struct NullPort {
    queues: PortQueues,
}

impl NullPort {
    /// A null port with `queues` queues in each direction.
    pub fn new(name: &str, queues: usize) -> Self {
        let counters: Vec<Arc<QueueCounters>> = (0..queues).map(|_| Arc::default()).collect();
        let rx = counters
            .iter()
            .map(|c| Box::new(NullQueue(c.clone())) as Box<dyn RxQueue>)
            .collect();
        let tx = counters
            .iter()
            .map(|c| Box::new(NullQueue(c.clone())) as Box<dyn TxQueue>)
            .collect();
        NullPort {
            queues: PortQueues::new(name, rx, tx, counters),
        }
    }
}

impl Port for NullPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

struct NullQueue(Arc<QueueCounters>);

impl RxQueue for NullQueue {
    fn rx_burst(&mut self, _: &mut Batch, _: &mut BufCache) -> Result<RxOutcome, PortError> {
        Ok(RxOutcome::Ended)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.0.clone()
    }
}

impl TxQueue for NullQueue {
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        let n = batch.len();
        self.0.count_tx(n, batch.bytes());
        batch.free_into(bufs);
        Ok(n)
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::BufPool;

    #[test]
    fn counts_and_frees_everything_sent() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut port = NullPort::new("null", 1);
        let mut tx = port.take_tx_queue(0).unwrap();
        let mut batch = Batch::with_capacity(4).unwrap();
        for i in 0..3u8 {
            batch.push(bufs.alloc_from(&[i; 10]).unwrap()).unwrap();
        }
        assert_eq!(tx.tx_burst(&mut batch, &mut bufs).unwrap(), 3);
        assert!(batch.is_empty());
        let q = &port.stats().queues[0];
        assert_eq!((q.tx_packets, q.tx_bytes), (3, 30));
        let mut rx = port.take_rx_queue(0).unwrap();
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Ended
        );
    }
}
