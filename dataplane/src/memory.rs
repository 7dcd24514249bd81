//! A receive port fed by an iterator of frames: generated traffic, or frames a test
//! built, replayed into a pipeline as a capture would be.

use std::sync::Arc;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::counters::DropReason;
use crate::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue};

/// One frame with its timestamp (ns since the UNIX epoch).
pub type TimedFrame = (u64, Vec<u8>);

/// A port with one receive queue that yields the frames of an iterator, in order, as
/// fast as the consumer pulls them, then ends.
pub struct IterPort {
    queues: PortQueues,
}

impl IterPort {
    /// A port replaying `frames`.
    pub fn new<I>(name: &str, frames: I) -> Self
    where
        I: Iterator<Item = TimedFrame> + Send + 'static,
    {
        let counters = Arc::new(QueueCounters::default());
        let rx: Box<dyn RxQueue> = Box::new(IterRx {
            frames: Box::new(frames),
            counters: counters.clone(),
        });
        IterPort {
            queues: PortQueues::new(name, vec![rx], Vec::new(), vec![counters]),
        }
    }
}

impl Port for IterPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

struct IterRx {
    frames: Box<dyn Iterator<Item = TimedFrame> + Send>,
    counters: Arc<QueueCounters>,
}

impl RxQueue for IterRx {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        let (mut n, mut bytes) = (0usize, 0u64);
        while !batch.is_full() {
            let Some((ts, frame)) = self.frames.next() else {
                break;
            };
            match bufs.alloc_from(&frame) {
                Ok(mut buf) => {
                    buf.set_timestamp_ns(ts);
                    bytes += frame.len() as u64;
                    n += 1;
                    // Cannot fail: the loop stops when the batch is full.
                    let _ = batch.push(buf);
                }
                // Longer than any buffer may hold: counted, not delivered.
                Err(_) => self.counters.count_drop(DropReason::Malformed, 1),
            }
        }
        if n == 0 {
            return Ok(RxOutcome::Ended);
        }
        self.counters.count_rx(n, bytes);
        Ok(RxOutcome::Received(n))
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{BufPool, MAX_FRAME_LEN};

    #[test]
    fn replays_in_order_then_ends_and_counts_oversize_frames() {
        let frames = vec![
            (1, vec![1u8; 60]),
            (2, vec![0u8; MAX_FRAME_LEN + 1]),
            (3, vec![3u8; 70]),
        ];
        let mut port = IterPort::new("gen", frames.into_iter());
        let mut rx = port.take_rx_queue(0).unwrap();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(8).unwrap();
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(2)
        );
        let got: Vec<(u64, usize)> = batch.iter().map(|p| (p.timestamp_ns(), p.len())).collect();
        assert_eq!(got, vec![(1, 60), (3, 70)]);
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Ended
        );
        let q = &port.stats().queues[0];
        assert_eq!((q.rx_packets, q.rx_bytes), (2, 130));
        assert_eq!(q.dropped.get("malformed").copied(), Some(1));
    }
}
