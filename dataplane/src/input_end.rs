//! When a process's network inputs have ended.
//!
//! An in-memory link closes when its sender stops and a capture file has an end, but a
//! network link never closes: a stage process reading from an interface cannot tell the
//! last packet from a pause. [`InputEnd`] decides it for every receive queue of a
//! process together: the input has ended once a stop was asked for (a signal, a
//! deadline), or once the process received at least one packet and then none on any
//! queue for the configured idle time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::clock::monotonic_ns;
use crate::doorbell::Doorbell;
use crate::port::{PortError, QueueCounters, RxOutcome, RxQueue};

/// The end-of-input decision shared by the receive queues of one process. Clones share
/// the state.
#[derive(Debug, Clone)]
pub struct InputEnd {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Idle time after traffic that ends the input (0: only a stop ends it).
    idle_ns: u64,
    /// When a queue last received a packet ([`monotonic_ns`] + 1; 0: never).
    last_rx: AtomicU64,
    stopped: AtomicBool,
}

impl InputEnd {
    /// Input that ends only when [`stop`](InputEnd::stop) is called.
    pub fn on_stop() -> Self {
        InputEnd::new(0)
    }

    /// Input that ends after `idle` without a packet, once a first packet came (or on
    /// [`stop`](InputEnd::stop)).
    pub fn after_idle(idle: Duration) -> Self {
        InputEnd::new(idle.as_nanos().max(1) as u64)
    }

    fn new(idle_ns: u64) -> Self {
        InputEnd {
            inner: Arc::new(Inner {
                idle_ns,
                last_rx: AtomicU64::new(0),
                stopped: AtomicBool::new(false),
            }),
        }
    }

    /// Ends the input now (every queue reports the end on its next empty poll).
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::Release);
    }

    /// Whether [`stop`](InputEnd::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Records that a queue received packets just now.
    #[inline]
    pub fn received(&self) {
        self.inner
            .last_rx
            .store(monotonic_ns() + 1, Ordering::Relaxed);
    }

    /// Whether a packet ever came.
    pub fn saw_traffic(&self) -> bool {
        self.inner.last_rx.load(Ordering::Relaxed) != 0
    }

    /// Whether the input has ended: called by a queue that found nothing to receive.
    pub fn ended(&self) -> bool {
        if self.is_stopped() {
            return true;
        }
        let last = self.inner.last_rx.load(Ordering::Relaxed);
        self.inner.idle_ns != 0
            && last != 0
            && monotonic_ns().saturating_sub(last - 1) >= self.inner.idle_ns
    }
}

/// A receive queue whose input ends as an [`InputEnd`] decides, for backends whose
/// queues never report an end of their own (a network link never closes).
pub struct EndingRxQueue {
    inner: Box<dyn RxQueue>,
    end: InputEnd,
}

impl EndingRxQueue {
    /// `inner`, ending when `end` says so.
    pub fn new(inner: Box<dyn RxQueue>, end: InputEnd) -> Self {
        EndingRxQueue { inner, end }
    }
}

impl RxQueue for EndingRxQueue {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        Ok(match self.inner.rx_burst(batch, bufs)? {
            RxOutcome::Received(n) => {
                self.end.received();
                RxOutcome::Received(n)
            }
            RxOutcome::Idle if self.end.ended() => RxOutcome::Ended,
            other => other,
        })
    }

    fn set_doorbell(&mut self, bell: Arc<Doorbell>) {
        self.inner.set_doorbell(bell);
    }

    fn depth(&self) -> Option<usize> {
        self.inner.depth()
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.inner.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_ends_only_after_traffic() {
        let end = InputEnd::after_idle(Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(10));
        assert!(!end.ended(), "no traffic yet: a quiet start is not an end");
        end.received();
        assert!(!end.ended());
        std::thread::sleep(Duration::from_millis(10));
        assert!(end.ended());
        end.received();
        assert!(!end.ended(), "new traffic reopens the input");
    }

    #[test]
    fn a_wrapped_queue_ends_after_its_traffic_goes_quiet() {
        use crate::ring::{Overflow, RingPort, RingQueueConfig};
        use crate::{BufPool, PacketBuf, Port};
        let mut link =
            RingPort::new("link", &[RingQueueConfig::new(8, Overflow::Backpressure)]).unwrap();
        let mut tx = link.take_tx_queue(0).unwrap();
        let end = InputEnd::after_idle(Duration::from_millis(20));
        let mut rx = EndingRxQueue::new(link.take_rx_queue(0).unwrap(), end);
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(4).unwrap();
        assert_eq!(rx.rx_burst(&mut batch, &mut bufs).unwrap(), RxOutcome::Idle);
        let mut one = Batch::with_capacity(1).unwrap();
        one.push(PacketBuf::from_frame(&[1; 60]).unwrap()).unwrap();
        tx.tx_burst(&mut one, &mut bufs).unwrap();
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(1)
        );
        assert_eq!(rx.rx_burst(&mut batch, &mut bufs).unwrap(), RxOutcome::Idle);
        std::thread::sleep(Duration::from_millis(30));
        // The sender is still there: only the idle time ends the input.
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Ended
        );
        drop(tx);
    }

    #[test]
    fn stop_ends_at_once_and_is_shared_by_clones() {
        let end = InputEnd::on_stop();
        let other = end.clone();
        end.received();
        std::thread::sleep(Duration::from_millis(2));
        assert!(!other.ended(), "no idle limit: only a stop ends it");
        end.stop();
        assert!(other.ended());
    }
}
