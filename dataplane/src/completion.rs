//! Completion notices: the D-Stage `purge(job ids, cascade)` between stages.
//!
//! When dedup delivers a job's first copy, the job's other copy is useless. Dedup sends
//! a notice to the node holding that copy (named in the job metadata's peer byte); the
//! node marks the job and removes the copy before inspecting it: a duplicate whose
//! primary was delivered, and, where the node is set to, a primary whose duplicate was
//! (a late primary). A node holds at most one copy of a job, so a notice needs no copy
//! kind. Notices travel on bounded single-producer, single-consumer rings, one per
//! instance that purges, and never block the sender: a notice that does not fit is
//! dropped and counted, which only means one useless copy gets inspected.

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

/// The sending end of a notice channel: every notice goes to each of its receivers.
pub struct CompletionSender {
    producers: Vec<rtrb::Producer<Completion>>,
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
    let (tx, mut rx) = completion_channels(capacity, 1);
    (tx, rx.pop().expect("one receiver"))
}

/// A notice channel with `receivers` receivers (at least 1), each holding at most
/// `capacity` notices: every notice sent reaches each receiver that has room.
pub fn completion_channels(
    capacity: usize,
    receivers: usize,
) -> (CompletionSender, Vec<CompletionReceiver>) {
    let (producers, consumers) = (0..receivers.max(1))
        .map(|_| rtrb::RingBuffer::new(capacity.max(1)))
        .unzip::<_, _, Vec<_>, Vec<_>>();
    (
        CompletionSender {
            producers,
            counters: Arc::default(),
        },
        consumers
            .into_iter()
            .map(|consumer| CompletionReceiver { consumer })
            .collect(),
    )
}

impl CompletionSender {
    /// Sends `notices` to every receiver, dropping those that do not fit; a notice
    /// counts as dropped when some receiver had no room for it.
    pub fn send(&mut self, notices: &[Completion]) {
        let mut delivered = notices.len();
        for producer in &mut self.producers {
            let room = producer.slots().min(notices.len());
            if room > 0 {
                let chunk = producer
                    .write_chunk_uninit(room)
                    .expect("room never exceeds the free slots");
                chunk.fill_from_iter(notices[..room].iter().copied());
            }
            delivered = delivered.min(room);
        }
        self.counters.sent.add(delivered as u64);
        self.counters
            .dropped
            .add((notices.len() - delivered) as u64);
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

/// EtherType of completion-notice frames between processes (IEEE 802's local
/// experimental EtherType 1).
pub const NOTICE_ETHERTYPE: u16 = 0x88B5;
/// The queue byte of a notice frame's outer destination MAC `02:44:41:53:NN:02`.
pub const NOTICE_QUEUE: u8 = 2;
/// Most notices one frame carries (the frame stays under 1,500 bytes).
pub const NOTICES_PER_FRAME: usize = 160;
/// Version byte of the notice payload.
const NOTICE_VERSION: u8 = 1;
/// Bytes before the first notice: MACs, EtherType, version, count.
const NOTICE_HEADER: usize = 16;
/// Bytes per notice: duplicator id, then the job id big endian.
const NOTICE_ENTRY: usize = 9;

/// A frame that is not a valid completion-notice frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeFrameError {
    /// Not a notice frame at all (EtherType or address).
    #[error("not a das notice frame")]
    NotNotices,
    /// A version this code does not read.
    #[error("notice frame version {0} (expected 1)")]
    Version(u8),
    /// Fewer bytes than its count of notices needs.
    #[error("notice frame of {len} bytes cannot hold its {count} notices")]
    Truncated {
        /// Frame length.
        len: usize,
        /// Notices it claims.
        count: usize,
    },
}

/// Writes into `frame` (cleared first) a frame carrying `notices` (at most
/// [`NOTICES_PER_FRAME`]) to node `node`: outer destination MAC `02:44:41:53:NN:02`,
/// source `02:44:41:53:ff:fe`, EtherType [`NOTICE_ETHERTYPE`], version 1, a count, and
/// per notice its duplicator id and job id (big endian); padded to 60 bytes.
pub fn encode_notices(node: u8, notices: &[Completion], frame: &mut Vec<u8>) {
    assert!(
        notices.len() <= NOTICES_PER_FRAME,
        "at most {NOTICES_PER_FRAME} notices per frame"
    );
    let prefix = crate::meta::DAS_MAC_PREFIX;
    frame.clear();
    frame.extend_from_slice(&prefix);
    frame.extend_from_slice(&[node, NOTICE_QUEUE]);
    frame.extend_from_slice(&prefix);
    frame.extend_from_slice(&[0xff, 0xfe]);
    frame.extend_from_slice(&NOTICE_ETHERTYPE.to_be_bytes());
    frame.extend_from_slice(&[NOTICE_VERSION, notices.len() as u8]);
    for n in notices {
        frame.push(n.duplicator);
        frame.extend_from_slice(&n.job.to_be_bytes());
    }
    if frame.len() < 60 {
        frame.resize(60, 0);
    }
}

/// The notices a frame written by [`encode_notices`] carries.
pub fn decode_notices(
    frame: &[u8],
) -> Result<impl Iterator<Item = Completion> + '_, NoticeFrameError> {
    if frame.len() < NOTICE_HEADER
        || frame[..4] != crate::meta::DAS_MAC_PREFIX
        || u16::from_be_bytes([frame[12], frame[13]]) != NOTICE_ETHERTYPE
    {
        return Err(NoticeFrameError::NotNotices);
    }
    if frame[14] != NOTICE_VERSION {
        return Err(NoticeFrameError::Version(frame[14]));
    }
    let count = usize::from(frame[15]);
    let body = &frame[NOTICE_HEADER..];
    if body.len() < count * NOTICE_ENTRY {
        return Err(NoticeFrameError::Truncated {
            len: frame.len(),
            count,
        });
    }
    Ok(body[..count * NOTICE_ENTRY]
        .chunks_exact(NOTICE_ENTRY)
        .map(|e| Completion {
            duplicator: e[0],
            job: u64::from_be_bytes(e[1..].try_into().expect("8 bytes")),
        }))
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

    #[test]
    fn every_receiver_gets_every_notice_it_has_room_for() {
        let (mut tx, mut rxs) = completion_channels(3, 2);
        let notice = |job| Completion { duplicator: 1, job };
        tx.send(&[notice(1), notice(2)]);
        let mut first = Vec::new();
        assert_eq!(rxs[0].drain(|c| first.push(c.job)), 2);
        // The second receiver still holds two: one more notice fits there, two here.
        tx.send(&[notice(3), notice(4)]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        rxs[0].drain(|c| a.push(c.job));
        rxs[1].drain(|c| b.push(c.job));
        assert_eq!((first, a, b), (vec![1, 2], vec![3, 4], vec![1, 2, 3]));
        let c = tx.counters();
        assert_eq!((c.sent.get(), c.dropped.get()), (3, 1));
    }

    proptest::proptest! {
        #[test]
        fn notice_frames_round_trip(
            node in 0u8..255,
            notices in proptest::collection::vec((0u8..255, proptest::num::u64::ANY), 0..=NOTICES_PER_FRAME),
        ) {
            let notices: Vec<Completion> =
                notices.into_iter().map(|(duplicator, job)| Completion { duplicator, job }).collect();
            let mut frame = Vec::new();
            encode_notices(node, &notices, &mut frame);
            proptest::prop_assert!(frame.len() >= 60 && frame.len() <= 1514);
            proptest::prop_assert_eq!(frame[4..6].to_vec(), vec![node, NOTICE_QUEUE]);
            let back: Vec<Completion> = decode_notices(&frame).unwrap().collect();
            proptest::prop_assert_eq!(back, notices);
        }

        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode_notices(&bytes).map(|it| it.count());
        }
    }

    #[test]
    fn bad_notice_frames_are_named() {
        let mut frame = Vec::new();
        encode_notices(
            1,
            &[Completion {
                duplicator: 0,
                job: 7,
            }; 5],
            &mut frame,
        );
        let mut cut = frame[..30].to_vec();
        cut[15] = 5;
        assert_eq!(
            decode_notices(&cut).err(),
            Some(NoticeFrameError::Truncated { len: 30, count: 5 })
        );
        let mut v2 = frame.clone();
        v2[14] = 2;
        assert_eq!(
            decode_notices(&v2).err(),
            Some(NoticeFrameError::Version(2))
        );
        assert_eq!(
            decode_notices(&frame[..10]).err(),
            Some(NoticeFrameError::NotNotices)
        );
    }
}
