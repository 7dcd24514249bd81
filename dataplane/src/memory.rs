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

/// How a [`FramesPort`] replays its frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FramesReplay {
    /// How fast.
    pub pace: crate::pcap::Pace,
    /// Packets to deliver in all: the frames are looped as often as needed.
    pub packets: u64,
    /// Give each loop over the frames its own addresses ([`crate::rewrite`]).
    pub distinct_loops: bool,
}

/// A receive port replaying frames held in memory, paced, looped up to a packet count:
/// the traffic of an experiment, read once and replayed for every point.
pub struct FramesPort {
    queues: PortQueues,
}

impl FramesPort {
    /// A port replaying `frames` as `replay` says; an error for an unusable pace or an
    /// empty frame list with packets asked for.
    pub fn new(
        name: &str,
        frames: Arc<[TimedFrame]>,
        replay: FramesReplay,
    ) -> Result<Self, PortError> {
        let bad = |reason: String| PortError::Config {
            port: name.to_string(),
            reason,
        };
        let pacer = crate::pcap::Pacer::new(replay.pace).map_err(|e| bad(e.to_string()))?;
        if frames.is_empty() && replay.packets > 0 {
            return Err(bad("no frames to replay".into()));
        }
        let counters = Arc::new(QueueCounters::default());
        let rx: Box<dyn RxQueue> = Box::new(FramesRx {
            frames,
            replay,
            pacer,
            next: 0,
            sent: 0,
            origin: std::time::Instant::now(),
            counters: counters.clone(),
        });
        Ok(FramesPort {
            queues: PortQueues::new(name, vec![rx], Vec::new(), vec![counters]),
        })
    }
}

impl Port for FramesPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

struct FramesRx {
    frames: Arc<[TimedFrame]>,
    replay: FramesReplay,
    pacer: crate::pcap::Pacer,
    next: usize,
    sent: u64,
    origin: std::time::Instant,
    counters: Arc<QueueCounters>,
}

impl RxQueue for FramesRx {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        if self.sent >= self.replay.packets {
            return Ok(RxOutcome::Ended);
        }
        let now = self.origin.elapsed().as_nanos() as u64;
        let (mut n, mut bytes) = (0usize, 0u64);
        while !batch.is_full() && self.sent < self.replay.packets {
            let (ts, frame) = &self.frames[self.next];
            if !self.pacer.admit(now, frame.len(), *ts) {
                break;
            }
            let pass = self.sent / self.frames.len() as u64;
            match bufs.alloc_from(frame) {
                Ok(mut buf) => {
                    if self.replay.distinct_loops {
                        crate::rewrite::distinct_loop(buf.data_mut(), (pass % 256) as u8);
                    }
                    buf.set_timestamp_ns(*ts);
                    bytes += frame.len() as u64;
                    n += 1;
                    let _ = batch.push(buf);
                }
                Err(_) => self.counters.count_drop(DropReason::Malformed, 1),
            }
            self.sent += 1;
            self.next = (self.next + 1) % self.frames.len();
        }
        if n == 0 {
            return Ok(if self.sent >= self.replay.packets {
                RxOutcome::Ended
            } else {
                RxOutcome::Idle
            });
        }
        self.counters.count_rx(n, bytes);
        Ok(RxOutcome::Received(n))
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

#[cfg(test)]
mod frames_tests {
    use super::*;
    use crate::buf::BufPool;
    use crate::pcap::Pace;

    #[test]
    fn loops_up_to_the_packet_count_with_distinct_addresses() {
        let mut frame = vec![0u8; 60];
        frame[12] = 0x08;
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&46u16.to_be_bytes());
        frame[26..30].copy_from_slice(&[10, 0, 0, 1]);
        let frames: Arc<[TimedFrame]> = vec![(1, frame.clone()), (2, frame)].into();
        let replay = FramesReplay {
            pace: Pace::Unlimited,
            packets: 5,
            distinct_loops: true,
        };
        let mut port = FramesPort::new("f", frames, replay).unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(8).unwrap();
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(5)
        );
        let second_bytes: Vec<u8> = batch.iter().map(|p| p.data()[27]).collect();
        assert_eq!(
            second_bytes,
            vec![0, 0, 1, 1, 2],
            "loop k XORs byte 1 of the address with k"
        );
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Ended
        );
        let empty: Arc<[TimedFrame]> = Vec::new().into();
        assert!(FramesPort::new("f", empty, replay).is_err());
    }

    #[test]
    fn a_paced_replay_waits_for_its_schedule() {
        let frames: Arc<[TimedFrame]> = vec![(0, vec![0u8; 60])].into();
        let replay = FramesReplay {
            pace: Pace::PacketsPerSec(1.0),
            packets: 3,
            distinct_loops: false,
        };
        let mut port = FramesPort::new("f", frames, replay).unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(8).unwrap();
        // One packet per second: the first goes at once, the next not within this test.
        assert_eq!(
            rx.rx_burst(&mut batch, &mut bufs).unwrap(),
            RxOutcome::Received(1)
        );
        assert_eq!(rx.rx_burst(&mut batch, &mut bufs).unwrap(), RxOutcome::Idle);
    }
}
