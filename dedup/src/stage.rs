//! The dedup D-Stage: the first copy of each job wins.

use std::sync::Arc;
use std::time::Duration;

use dataplane::completion::Completion;
use dataplane::counters::{Counter, DropReason, StageCounters, StageSnapshot};
use dataplane::latency::{LatencyReport, MAX_LATENCY_NS, latency_histogram};
use dataplane::meta::{self, CopyKind, JobFrame, JobMeta};
use dataplane::{Batch, BufCache};
use hdrhistogram::Histogram;

use crate::content::{ContentConfig, ContentWindow};
use crate::upp::{UppMeter, UppReport};
use dataplane::window::{JobWindow, Seen, WindowError};

/// Dedup settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupConfig {
    /// Job ids remembered per duplicator (a power of two). It must exceed the spread of
    /// job ids in flight between the duplicator and dedup, or first copies arrive late
    /// and are dropped (counted as `late_copy`).
    pub window: usize,
    /// Interval of the UPP/sec timeline.
    pub upp_interval: Duration,
    /// Whether to emit completion notices (active purge): when a job's first copy
    /// arrives, a notice goes to the node holding its other copy (the duplicate's
    /// node when the primary wins, the primary's node when the duplicate wins).
    pub notify: bool,
    /// Content-hash mode: copies are recognised by the hash of their invariant content
    /// within a time window, not by job id (for traffic that lost its metadata).
    pub content: Option<ContentConfig>,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window: 1 << 20,
            upp_interval: Duration::from_secs(1),
            notify: false,
            content: None,
        }
    }
}

/// Errors from dedup settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DedupError {
    /// Bad window size.
    #[error(transparent)]
    Window(#[from] WindowError),
}

/// Dedup's counters, readable while it runs.
#[derive(Debug, Default)]
pub struct DedupCounters {
    /// Copies received, unique packets forwarded, copies dropped by reason.
    pub stage: StageCounters,
    /// Unique packets whose first copy to arrive was the primary.
    pub first_from_primary: Counter,
    /// Unique packets whose first copy to arrive was the duplicate ("rescued").
    pub first_from_duplicate: Counter,
}

/// Everything dedup measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DedupReport {
    /// Received, forwarded (unique) and dropped copies.
    pub counters: StageSnapshot,
    /// Unique packets first delivered by their primary copy.
    pub first_from_primary: u64,
    /// Unique packets first delivered by their duplicate copy ("rescued").
    pub first_from_duplicate: u64,
    /// Unique packets first delivered by each node (index = node).
    pub first_by_node: Vec<u64>,
    /// Content-hash mode: fingerprints forgotten before their window ended because the
    /// table was full (none in job-id mode).
    pub content_evicted_early: Option<u64>,
    /// Goodput.
    pub upp: UppReport,
    /// Ingress-to-dedup latency of unique packets, in microseconds.
    pub latency: LatencyReport,
    /// Job ids remembered per duplicator, and the memory that takes.
    pub window: usize,
    /// Bytes of window memory in use (all duplicators seen).
    pub window_memory_bytes: usize,
    /// When the report was made (at the end of a run: when dedup finished), ns since
    /// the UNIX epoch.
    pub reported_ns: u64,
}

/// The dedup stage state of one thread.
pub struct Dedup {
    config: DedupConfig,
    windows: Vec<Option<JobWindow>>,
    counters: Arc<DedupCounters>,
    upp: UppMeter,
    latency: Histogram<u64>,
    /// Completion notices waiting to be sent, per node.
    notices: Vec<Vec<Completion>>,
    /// Unique packets first delivered by each node.
    first_by_node: Vec<u64>,
    /// Content-hash mode's window (none: job-id mode).
    content: Option<ContentWindow>,
}

/// What one dispatch saw.
#[derive(Debug, Default)]
struct Tally {
    forwarded: u64,
    from_primary: u64,
    from_duplicate: u64,
    repeat: u64,
    late: u64,
    foreign: u64,
}

impl std::fmt::Debug for Dedup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dedup")
            .field("config", &self.config)
            .finish()
    }
}

impl Dedup {
    /// A dedup stage with `config`.
    pub fn new(config: DedupConfig) -> Result<Self, DedupError> {
        // Validate the size now rather than on the first packet.
        JobWindow::new(config.window)?;
        Ok(Dedup {
            config,
            windows: vec![None; 256],
            counters: Arc::default(),
            upp: UppMeter::new(config.upp_interval),
            latency: latency_histogram(),
            notices: Vec::new(),
            first_by_node: Vec::new(),
            content: config.content.map(ContentWindow::new),
        })
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<DedupCounters> {
        self.counters.clone()
    }

    /// Takes copies from the front of `input`, moves the first copy of each job, with its
    /// metadata stripped, to `unique`, and frees the rest into `bufs`, counting why.
    /// Stops when `unique` is full; what is left stays in `input`.
    pub fn dispatch(
        &mut self,
        input: &mut Batch,
        unique: &mut Batch,
        bufs: &mut BufCache,
        now_ns: u64,
    ) {
        let take = input.len().min(unique.room());
        let mut tally = Tally::default();
        for mut pkt in input.drain_front(take) {
            // The metadata, and the node the copy was steered to (the one that
            // inspected it), read before the header is stripped.
            let header = JobFrame::new_checked(pkt.data())
                .ok()
                .map(|f| (f.meta(), f.steering().map(|s| s.node as usize)));
            if header.is_some() {
                pkt.strip_front(meta::ENCAP_LEN)
                    .expect("a checked frame holds its header");
            }
            let seen = match (&mut self.content, header) {
                (Some(content), _) => {
                    if content.first_frame(pkt.data(), now_ns) {
                        Seen::First
                    } else {
                        Seen::Repeat
                    }
                }
                (None, Some((meta, _))) => self.windows[meta.duplicator as usize]
                    .get_or_insert_with(|| {
                        JobWindow::new(self.config.window).expect("size validated in new")
                    })
                    .observe(meta.job.0),
                (None, None) => {
                    tally.foreign += 1;
                    bufs.free(pkt);
                    continue;
                }
            };
            match seen {
                Seen::First => {
                    tally.forwarded += 1;
                    if let Some((meta, node)) = header {
                        self.first(&meta, node, now_ns, &mut tally);
                    }
                    // Cannot fail: at most unique.room() packets are taken.
                    let _ = unique.push(pkt);
                }
                Seen::Repeat => {
                    tally.repeat += 1;
                    bufs.free(pkt);
                }
                Seen::Late => {
                    tally.late += 1;
                    bufs.free(pkt);
                }
            }
        }
        let c = &self.counters;
        c.stage.received.add(take as u64);
        c.stage.forwarded.add(tally.forwarded);
        c.stage.dropped.add(DropReason::DuplicateCopy, tally.repeat);
        c.stage.dropped.add(DropReason::LateCopy, tally.late);
        c.stage
            .dropped
            .add(DropReason::MissingMetadata, tally.foreign);
        c.first_from_primary.add(tally.from_primary);
        c.first_from_duplicate.add(tally.from_duplicate);
        self.upp.record(now_ns, tally.forwarded);
    }

    /// Books the first copy of a job that carried metadata: which kind and which node
    /// delivered it, its latency, and the completion notice for its other copy.
    fn first(&mut self, meta: &JobMeta, node: Option<usize>, now_ns: u64, tally: &mut Tally) {
        match meta.kind {
            CopyKind::Primary => tally.from_primary += 1,
            CopyKind::Duplicate => tally.from_duplicate += 1,
        }
        if let (true, Some(peer)) = (self.config.notify, meta.peer) {
            let peer = peer as usize;
            if self.notices.len() <= peer {
                self.notices.resize_with(peer + 1, Vec::new);
            }
            self.notices[peer].push(Completion {
                duplicator: meta.duplicator,
                job: meta.job.0,
            });
        }
        if let Some(node) = node {
            if self.first_by_node.len() <= node {
                self.first_by_node.resize(node + 1, 0);
            }
            self.first_by_node[node] += 1;
        }
        let latency = now_ns
            .saturating_sub(meta.ingress_ns)
            .clamp(1, MAX_LATENCY_NS);
        self.latency.saturating_record(latency);
    }

    /// Hands out the completion notices gathered since the last call, per node: the
    /// D-Stage `purge(job ids, cascade)` passed on to the nodes holding the duplicates.
    pub fn take_notices(&mut self, mut send: impl FnMut(usize, &[Completion])) {
        for (node, notices) in self.notices.iter_mut().enumerate() {
            if !notices.is_empty() {
                send(node, notices);
                notices.clear();
            }
        }
    }

    /// What dedup measured so far.
    pub fn report(&self) -> DedupReport {
        DedupReport {
            counters: self.counters.stage.snapshot(),
            first_from_primary: self.counters.first_from_primary.get(),
            first_from_duplicate: self.counters.first_from_duplicate.get(),
            first_by_node: self.first_by_node.clone(),
            content_evicted_early: self.content.as_ref().map(ContentWindow::evicted_early),
            upp: self.upp.report(),
            latency: LatencyReport::from_histogram(&self.latency),
            window: self.config.window,
            window_memory_bytes: self
                .windows
                .iter()
                .flatten()
                .map(JobWindow::memory_bytes)
                .sum(),
            reported_ns: dataplane::clock::now_ns(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::BufPool;
    use dataplane::meta::{JobId, JobMeta, Priority, Steering};

    fn copy(bufs: &mut BufCache, job: u64, kind: CopyKind, duplicator: u8) -> dataplane::PacketBuf {
        let mut pkt = bufs.alloc_from(&job.to_be_bytes()).unwrap();
        let meta = JobMeta {
            job: JobId(job),
            kind,
            priority: Priority::High,
            ingress_ns: 1_000,
            duplicator,
            peer: Some(if kind == CopyKind::Primary { 1 } else { 0 }),
        };
        meta::encap(&mut pkt, &meta, Steering { node: 0, queue: 0 });
        pkt
    }

    #[test]
    fn notices_go_to_the_node_holding_the_other_copy() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut dedup = Dedup::new(DedupConfig {
            notify: true,
            ..DedupConfig::default()
        })
        .unwrap();
        let mut input = Batch::with_capacity(16).unwrap();
        let mut unique = Batch::with_capacity(16).unwrap();
        for (job, kind) in [
            (1, CopyKind::Primary),
            (2, CopyKind::Duplicate),
            (2, CopyKind::Primary),
            (3, CopyKind::Primary),
            (1, CopyKind::Duplicate),
        ] {
            input.push(copy(&mut bufs, job, kind, 4)).unwrap();
        }
        dedup.dispatch(&mut input, &mut unique, &mut bufs, 5_000);
        let mut sent = Vec::new();
        dedup.take_notices(|node, notices| sent.push((node, notices.to_vec())));
        let jobs = |ids: &[u64]| {
            ids.iter()
                .map(|&job| Completion { duplicator: 4, job })
                .collect::<Vec<_>>()
        };
        // Job 2's duplicate came first: the notice goes to its primary's node (0).
        assert_eq!(sent, vec![(0, jobs(&[2])), (1, jobs(&[1, 3]))]);
        let mut again = 0;
        dedup.take_notices(|_, _| again += 1);
        assert_eq!(again, 0, "notices are handed out once");
    }

    #[test]
    fn first_copy_wins_and_everything_is_counted() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut dedup = Dedup::new(DedupConfig {
            window: 64,
            ..DedupConfig::default()
        })
        .unwrap();
        let mut input = Batch::with_capacity(16).unwrap();
        let mut unique = Batch::with_capacity(16).unwrap();
        let copies = [
            (1, CopyKind::Duplicate, 0),
            (1, CopyKind::Primary, 0),
            (2, CopyKind::Primary, 0),
            (2, CopyKind::Primary, 1), // same id, other duplicator: a different job
            (200, CopyKind::Primary, 0),
            (2, CopyKind::Duplicate, 0), // late: 200 - 2 >= 64
        ];
        for (job, kind, d) in copies {
            input.push(copy(&mut bufs, job, kind, d)).unwrap();
        }
        input
            .push(bufs.alloc_from(b"no metadata here").unwrap())
            .unwrap();
        dedup.dispatch(&mut input, &mut unique, &mut bufs, 5_000);
        assert!(input.is_empty());
        let jobs: Vec<u64> = unique
            .iter()
            .map(|p| u64::from_be_bytes(p.data().try_into().unwrap()))
            .collect();
        assert_eq!(jobs, vec![1, 2, 2, 200]);
        let r = dedup.report();
        assert_eq!(r.counters.received, 7);
        assert_eq!(r.counters.forwarded, 4);
        assert_eq!(r.counters.dropped_for(DropReason::DuplicateCopy), 1);
        assert_eq!(r.counters.dropped_for(DropReason::LateCopy), 1);
        assert_eq!(r.counters.dropped_for(DropReason::MissingMetadata), 1);
        assert!(r.counters.balanced());
        assert_eq!((r.first_from_primary, r.first_from_duplicate), (3, 1));
        assert_eq!(r.latency.count, 4);
        assert!((r.latency.p50_us - 4.0).abs() < 0.01);
        assert_eq!(r.window_memory_bytes, 16);
    }

    #[test]
    fn a_full_output_leaves_the_rest_in_the_input() {
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut dedup = Dedup::new(DedupConfig::default()).unwrap();
        let mut input = Batch::with_capacity(8).unwrap();
        let mut unique = Batch::with_capacity(2).unwrap();
        for job in 0..5 {
            input
                .push(copy(&mut bufs, job, CopyKind::Primary, 0))
                .unwrap();
        }
        dedup.dispatch(&mut input, &mut unique, &mut bufs, 0);
        assert_eq!((unique.len(), input.len()), (2, 3));
        assert!(
            Dedup::new(DedupConfig {
                window: 1000,
                ..DedupConfig::default()
            })
            .is_err()
        );
    }
}
