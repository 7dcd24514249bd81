//! Completion notices: the D-Stage `purge(job ids, cascade)` between stages.
//!
//! When dedup delivers a job's first copy, the job's other copy is useless. Dedup sends
//! a notice to the node holding that copy (named in the job metadata's peer byte); the
//! node marks the job and removes the duplicate before inspecting it. Notices travel on
//! a bounded single-producer, single-consumer ring and never block the sender: a notice
//! that does not fit is dropped and counted, which only means one useless duplicate
//! gets inspected.

use std::sync::Arc;

use crate::counters::Counter;

/// A job that was delivered: its duplicator and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The duplicator that stamped the job.
    pub duplicator: u8,
    /// The job id.
    pub job: u64,
}

/// Counters of one notice channel.
#[derive(Debug, Default)]
pub struct CompletionCounters {
    /// Notices delivered into the channel.
    pub sent: Counter,
    /// Notices dropped because the channel was full.
    pub dropped: Counter,
}

/// The sending end of a notice channel.
pub struct CompletionSender {
    producer: rtrb::Producer<Completion>,
    counters: Arc<CompletionCounters>,
}

/// The receiving end of a notice channel.
pub struct CompletionReceiver {
    consumer: rtrb::Consumer<Completion>,
}

impl std::fmt::Debug for CompletionSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionSender").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CompletionReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionReceiver").finish_non_exhaustive()
    }
}

/// A notice channel holding at most `capacity` notices (at least 1).
pub fn completion_channel(capacity: usize) -> (CompletionSender, CompletionReceiver) {
    let (producer, consumer) = rtrb::RingBuffer::new(capacity.max(1));
    (
        CompletionSender {
            producer,
            counters: Arc::default(),
        },
        CompletionReceiver { consumer },
    )
}

impl CompletionSender {
    /// Sends `notices`, dropping (and counting) those that do not fit.
    pub fn send(&mut self, notices: &[Completion]) {
        let room = self.producer.slots().min(notices.len());
        if room > 0 {
            let chunk = self
                .producer
                .write_chunk_uninit(room)
                .expect("room never exceeds the free slots");
            chunk.fill_from_iter(notices[..room].iter().copied());
        }
        self.counters.sent.add(room as u64);
        self.counters.dropped.add((notices.len() - room) as u64);
    }

    /// The channel's counters.
    pub fn counters(&self) -> Arc<CompletionCounters> {
        self.counters.clone()
    }
}

impl CompletionReceiver {
    /// Hands every waiting notice to `f`; returns how many there were.
    pub fn drain(&mut self, mut f: impl FnMut(Completion)) -> usize {
        let n = self.consumer.slots();
        if n == 0 {
            return 0;
        }
        let chunk = self
            .consumer
            .read_chunk(n)
            .expect("n never exceeds the filled slots");
        for notice in chunk {
            f(notice);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_arrive_in_order_and_overflow_is_counted() {
        let (mut tx, mut rx) = completion_channel(3);
        let notice = |job| Completion { duplicator: 1, job };
        tx.send(&[notice(1), notice(2)]);
        tx.send(&[notice(3), notice(4)]);
        let mut got = Vec::new();
        assert_eq!(rx.drain(|c| got.push(c.job)), 3);
        assert_eq!(got, vec![1, 2, 3]);
        let c = tx.counters();
        assert_eq!((c.sent.get(), c.dropped.get()), (3, 1));
        assert_eq!(rx.drain(|_| {}), 0);
    }
}
