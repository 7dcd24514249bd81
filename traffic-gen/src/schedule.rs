//! When flows start (a Poisson process) and which active flow sends next (a priority
//! queue keyed by each flow's next packet time).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::flow::FlowPackets;
use crate::rng::Rng;

/// Flow start times of a Poisson process: exponential gaps with mean `1 / rate`.
#[derive(Debug, Clone)]
pub(crate) struct Arrivals {
    rng: Rng,
    mean_gap_ns: f64,
    start_ns: u64,
    /// Offset of the next arrival from the start.
    next_offset: u64,
    left: u64,
}

impl Arrivals {
    pub(crate) fn new(rng: Rng, rate_per_s: f64, start_ns: u64, flows: u64) -> Arrivals {
        let mut a = Arrivals {
            rng,
            mean_gap_ns: 1e9 / rate_per_s,
            start_ns,
            next_offset: 0,
            left: flows,
        };
        a.next_offset = a.gap();
        a
    }

    fn gap(&mut self) -> u64 {
        self.rng.exponential(self.mean_gap_ns).round() as u64
    }

    /// Time of the next flow start, if any flows are left.
    pub(crate) fn peek(&self) -> Option<u64> {
        (self.left > 0).then_some(self.start_ns + self.next_offset)
    }

    /// Takes the next flow start.
    pub(crate) fn take(&mut self) -> Option<u64> {
        let t = self.peek()?;
        self.left -= 1;
        self.next_offset += self.gap();
        Some(t)
    }
}

/// An active flow in the queue.
#[derive(Debug)]
struct Entry {
    next_t: u64,
    id: u64,
    flow: FlowPackets,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.next_t, self.id) == (other.next_t, other.id)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that the max-heap pops the earliest packet (ties: the older flow).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.next_t, other.id).cmp(&(self.next_t, self.id))
    }
}

/// Active flows ordered by their next packet time.
#[derive(Debug, Default)]
pub(crate) struct ActiveFlows {
    heap: BinaryHeap<Entry>,
}

impl ActiveFlows {
    /// Adds a flow with at least one packet left.
    pub(crate) fn push(&mut self, id: u64, flow: FlowPackets) {
        if let Some(next_t) = flow.next_time() {
            self.heap.push(Entry { next_t, id, flow });
        }
    }

    /// Time of the earliest pending packet.
    pub(crate) fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.next_t)
    }

    /// Writes the earliest pending packet: its time, flow id and frame.
    pub(crate) fn pop_packet(&mut self) -> Option<(u64, u64, Vec<u8>)> {
        let mut e = self.heap.pop()?;
        let (t, frame) = e.flow.write_next().expect("queued flows have packets");
        let id = e.id;
        if let Some(next_t) = e.flow.next_time() {
            e.next_t = next_t;
            self.heap.push(e);
        }
        Some((t, id, frame))
    }

    /// Flows with packets still to write.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_increasing_with_the_right_rate() {
        let mut a = Arrivals::new(Rng::new(1), 1000.0, 5, 10_000);
        let mut prev = 0;
        let mut last = 0;
        let mut n = 0;
        while let Some(t) = a.take() {
            assert!(t >= prev);
            prev = t;
            last = t;
            n += 1;
        }
        assert_eq!(n, 10_000);
        // 10 000 flows at 1000/s take about ten seconds.
        let secs = (last - 5) as f64 / 1e9;
        assert!((9.5..10.5).contains(&secs), "{secs}");
        assert_eq!(a.peek(), None);
    }
}
