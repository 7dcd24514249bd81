//! The replay port: a capture file as a port with one receive queue.
//!
//! Each `rx_burst` copies the next records into buffers from the caller's
//! [`BufCache`], stamped with their capture time, as far as the [`Pacer`] allows.
//! Records whose link type is not Ethernet are dropped and counted
//! ([`DropReason::UnsupportedLinkType`]); a record cut short at the end of the file is
//! counted once per loop ([`DropReason::TruncatedRecord`]) and reported once
//! ([`ReplayReport::truncated_tail`]). So, once the queue has ended, the loops times
//! the records of the file = packets received + packets dropped.
//!
//! Looping: the file is replayed [`ReplayConfig::loops`] times. Copy `k` (from 0) of
//! each frame is stamped `k × period` later, where the period is the capture's span
//! (latest minus earliest timestamp) plus the mean gap between its packets (at least
//! 1 ns), so timestamps keep increasing from one loop to the next. The first loop
//! streams the file; when there is more than one loop and the frames fit
//! [`ReplayConfig::cache_budget`], the first loop also keeps a copy of them in one
//! contiguous buffer and the later loops replay from memory, without reading or
//! parsing the file again. A capture larger than the budget is read again for every
//! loop. A capture with no Ethernet frame is read once, whatever the loop count.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::batch::Batch;
use crate::buf::{BufCache, PacketBuf};
use crate::counters::DropReason;
use crate::port::{Port, PortError, PortQueues, QueueCounters, RxOutcome, RxQueue};

use super::pace::{Pace, Pacer};
use super::reader::{CaptureFormat, CaptureReader, LINKTYPE_ETHERNET, TruncatedTail};

/// Default [`ReplayConfig::cache_budget`]: 1 GiB.
pub const DEFAULT_CACHE_BUDGET: usize = 1 << 30;

/// A clock for pacing: nanoseconds on any monotonic time line.
pub type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How a capture is replayed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayConfig {
    /// How fast.
    pub pace: Pace,
    /// How many times the file is replayed (at least 1).
    pub loops: u64,
    /// Most bytes (frames plus a 24-byte index entry per record) kept in memory to
    /// replay loops after the first without reading the file again; 0 never keeps any.
    pub cache_budget: usize,
    /// Give each loop its own addresses (`rewrite::distinct_loop` with the loop number,
    /// modulo 256), so looped traffic holds distinct flows.
    pub distinct_loops: bool,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            pace: Pace::Unlimited,
            loops: 1,
            cache_budget: DEFAULT_CACHE_BUDGET,
            distinct_loops: false,
        }
    }
}

impl ReplayConfig {
    /// The same configuration at `pace`.
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// The same configuration replaying the file `loops` times.
    pub fn with_loops(mut self, loops: u64) -> Self {
        self.loops = loops;
        self
    }

    /// The same configuration with (or without) distinct addresses per loop.
    pub fn with_distinct_loops(mut self, distinct: bool) -> Self {
        self.distinct_loops = distinct;
        self
    }
}

/// What a replay has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Loops over the file completed.
    pub loops_completed: u64,
    /// Packet records in the file (of every link type), once the first loop is done.
    pub records_per_loop: u64,
    /// Whether loops after the first replay from memory (known after the first loop).
    pub cached: bool,
    /// Set if the file ends inside a record (reported once, however many loops).
    pub truncated_tail: Option<TruncatedTail>,
}

#[derive(Debug, Default)]
struct Shared {
    loops_completed: AtomicU64,
    records_per_loop: AtomicU64,
    cached: AtomicBool,
    truncated_tail: OnceLock<TruncatedTail>,
}

/// A capture file replayed as a port: one receive queue, no transmit queue.
pub struct PcapPort {
    path: PathBuf,
    format: CaptureFormat,
    queues: PortQueues,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PcapPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapPort")
            .field("name", &self.name())
            .field("path", &self.path)
            .field("format", &self.format)
            .finish()
    }
}

impl PcapPort {
    /// A port named `name` replaying the capture at `path`. The file is opened and its
    /// header checked here; errors further in come from `rx_burst`.
    pub fn open(
        name: &str,
        path: impl AsRef<Path>,
        config: ReplayConfig,
    ) -> Result<Self, PortError> {
        let start = Instant::now();
        let clock: ClockFn = Arc::new(move || start.elapsed().as_nanos() as u64);
        PcapPort::open_with_clock(name, path, config, clock)
    }

    /// Like [`PcapPort::open`], pacing by `clock` instead of the monotonic system clock
    /// (for tests, with a clock they move by hand).
    pub fn open_with_clock(
        name: &str,
        path: impl AsRef<Path>,
        config: ReplayConfig,
        clock: ClockFn,
    ) -> Result<Self, PortError> {
        let path = path.as_ref().to_path_buf();
        let config_error = |reason: String| PortError::Config {
            port: name.to_string(),
            reason,
        };
        if config.loops == 0 {
            return Err(config_error("a replay needs at least one loop".into()));
        }
        let pacer = Pacer::new(config.pace).map_err(|e| config_error(e.to_string()))?;
        let reader = CaptureReader::open(&path).map_err(|e| e.into_port_error(name))?;
        let format = reader.format();
        let cache = if config.loops > 1 {
            FrameCache::for_file(&path, config.cache_budget)
        } else {
            None
        };
        let counters = Arc::new(QueueCounters::default());
        let shared = Arc::new(Shared::default());
        let queue = ReplayQueue {
            port: name.to_string(),
            path: path.clone(),
            loops: config.loops,
            distinct_loops: config.distinct_loops,
            pass: 0,
            source: Source::File(Box::new(reader)),
            pacer,
            clock,
            pending: None,
            deferred_error: None,
            counters: counters.clone(),
            shared: shared.clone(),
            first_pass: PassStats::default(),
            period_ns: 0,
            cache,
        };
        Ok(PcapPort {
            path,
            format,
            queues: PortQueues::new(name, vec![Box::new(queue)], Vec::new(), vec![counters]),
            shared,
        })
    }

    /// The capture file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The capture's format, as detected from its content.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// What the replay has done so far (readable while the queue's thread runs).
    pub fn report(&self) -> ReplayReport {
        ReplayReport {
            loops_completed: self.shared.loops_completed.load(Ordering::Acquire),
            records_per_loop: self.shared.records_per_loop.load(Ordering::Relaxed),
            cached: self.shared.cached.load(Ordering::Relaxed),
            truncated_tail: self.shared.truncated_tail.get().copied(),
        }
    }
}

impl Port for PcapPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

/// Timestamps and counts of the first loop, from which the loop period follows.
#[derive(Debug, Clone, Copy)]
struct PassStats {
    records: u64,
    ethernet: u64,
    min_ts: u64,
    max_ts: u64,
}

impl Default for PassStats {
    fn default() -> Self {
        PassStats {
            records: 0,
            ethernet: 0,
            min_ts: u64::MAX,
            max_ts: 0,
        }
    }
}

impl PassStats {
    /// Span plus mean gap, at least 1 ns.
    fn period_ns(&self) -> u64 {
        if self.records == 0 {
            return 1;
        }
        let span = self.max_ts - self.min_ts;
        let gap = if self.records > 1 {
            span / (self.records - 1)
        } else {
            0
        };
        span.saturating_add(gap).max(1)
    }
}

/// One record kept for later loops.
#[derive(Debug, Clone, Copy)]
struct CachedRecord {
    timestamp_ns: u64,
    start: usize,
    len: u32,
    ethernet: bool,
}

/// The frames of the first loop, kept to replay the later ones.
#[derive(Debug)]
struct FrameCache {
    data: Vec<u8>,
    records: Vec<CachedRecord>,
    truncated_tail: Option<TruncatedTail>,
    budget: usize,
}

impl FrameCache {
    /// An empty cache for the capture at `path`, if its frames may fit `budget`.
    fn for_file(path: &Path, budget: usize) -> Option<FrameCache> {
        let file_len = std::fs::metadata(path).ok()?.len();
        let file_len = usize::try_from(file_len).ok()?;
        // The frames are no larger than the file: reserve that much once.
        (budget > 0 && file_len <= budget).then(|| FrameCache {
            data: Vec::with_capacity(file_len),
            records: Vec::new(),
            truncated_tail: None,
            budget,
        })
    }

    /// Keeps a record; `false` if the cache went over budget.
    fn push(&mut self, timestamp_ns: u64, data: &[u8], ethernet: bool) -> bool {
        let start = self.data.len();
        if ethernet {
            self.data.extend_from_slice(data);
        }
        self.records.push(CachedRecord {
            timestamp_ns,
            start,
            len: if ethernet { data.len() as u32 } else { 0 },
            ethernet,
        });
        self.data.len() + self.records.len() * std::mem::size_of::<CachedRecord>() <= self.budget
    }
}

enum Source {
    /// Streaming the file.
    File(Box<CaptureReader<File>>),
    /// Replaying the cache from this record on.
    Cache(usize),
    /// No more loops.
    Done,
}

struct ReplayQueue {
    port: String,
    path: PathBuf,
    loops: u64,
    distinct_loops: bool,
    /// Current loop, from 0.
    pass: u64,
    source: Source,
    pacer: Pacer,
    clock: ClockFn,
    /// A packet read but not yet due.
    pending: Option<PacketBuf>,
    /// An error met after some packets of a burst: returned by the next call.
    deferred_error: Option<PortError>,
    counters: Arc<QueueCounters>,
    shared: Arc<Shared>,
    first_pass: PassStats,
    period_ns: u64,
    cache: Option<FrameCache>,
}

impl ReplayQueue {
    /// The next Ethernet frame, in a buffer from `bufs`; `None` after the last loop.
    fn next_packet(&mut self, bufs: &mut BufCache) -> Result<Option<PacketBuf>, PortError> {
        loop {
            match &mut self.source {
                Source::File(reader) => match reader.next_record() {
                    Ok(Some(rec)) => {
                        let ethernet = rec.link_type == LINKTYPE_ETHERNET;
                        if self.pass == 0 {
                            let stats = &mut self.first_pass;
                            stats.records += 1;
                            stats.ethernet += u64::from(ethernet);
                            stats.min_ts = stats.min_ts.min(rec.timestamp_ns);
                            stats.max_ts = stats.max_ts.max(rec.timestamp_ns);
                            if let Some(cache) = &mut self.cache {
                                if !cache.push(rec.timestamp_ns, rec.data, ethernet) {
                                    self.cache = None;
                                }
                            }
                        }
                        if !ethernet {
                            self.counters.count_drop(DropReason::UnsupportedLinkType, 1);
                            continue;
                        }
                        let ts = rec
                            .timestamp_ns
                            .saturating_add(self.pass.saturating_mul(self.period_ns));
                        let buf = fill(bufs, rec.data, ts, &self.port, &self.path)?;
                        return Ok(Some(self.rewrite(buf)));
                    }
                    Ok(None) => {
                        let tail = reader.report().truncated_tail;
                        self.end_pass(tail)?;
                    }
                    Err(e) => {
                        self.source = Source::Done;
                        self.cache = None;
                        return Err(e.into_port_error(&self.port));
                    }
                },
                Source::Cache(next) => {
                    let Some(cache) = &self.cache else {
                        self.source = Source::Done;
                        continue;
                    };
                    let Some(rec) = cache.records.get(*next).copied() else {
                        let tail = cache.truncated_tail;
                        self.end_pass(tail)?;
                        continue;
                    };
                    *next += 1;
                    if !rec.ethernet {
                        self.counters.count_drop(DropReason::UnsupportedLinkType, 1);
                        continue;
                    }
                    let data = &cache.data[rec.start..rec.start + rec.len as usize];
                    let ts = rec
                        .timestamp_ns
                        .saturating_add(self.pass.saturating_mul(self.period_ns));
                    let buf = fill(bufs, data, ts, &self.port, &self.path)?;
                    return Ok(Some(self.rewrite(buf)));
                }
                Source::Done => return Ok(None),
            }
        }
    }

    /// Gives the packet its loop's addresses, when configured.
    fn rewrite(&self, mut buf: PacketBuf) -> PacketBuf {
        if self.distinct_loops {
            crate::rewrite::distinct_loop(buf.data_mut(), (self.pass % 256) as u8);
        }
        buf
    }

    /// Ends a loop over the file and starts the next one, if any.
    fn end_pass(&mut self, tail: Option<TruncatedTail>) -> Result<(), PortError> {
        if let Some(tail) = tail {
            self.counters.count_drop(DropReason::TruncatedRecord, 1);
            let _ = self.shared.truncated_tail.set(tail);
        }
        if self.pass == 0 {
            self.period_ns = self.first_pass.period_ns();
            if let Some(cache) = &mut self.cache {
                cache.truncated_tail = tail;
            }
            self.shared
                .records_per_loop
                .store(self.first_pass.records, Ordering::Relaxed);
            self.shared
                .cached
                .store(self.cache.is_some(), Ordering::Relaxed);
        }
        self.pass += 1;
        self.shared
            .loops_completed
            .store(self.pass, Ordering::Release);
        if self.pass >= self.loops || self.first_pass.ethernet == 0 {
            self.source = Source::Done;
            self.cache = None;
        } else if self.cache.is_some() {
            self.source = Source::Cache(0);
        } else {
            self.source = Source::Done;
            let reader =
                CaptureReader::open(&self.path).map_err(|e| e.into_port_error(&self.port))?;
            self.source = Source::File(Box::new(reader));
        }
        Ok(())
    }

    fn ended(&self) -> bool {
        matches!(self.source, Source::Done) && self.pending.is_none()
    }
}

/// A buffer from `bufs` holding `data`, stamped `ts`.
#[inline]
fn fill(
    bufs: &mut BufCache,
    data: &[u8],
    ts: u64,
    port: &str,
    path: &Path,
) -> Result<PacketBuf, PortError> {
    // The reader bounds every record by MAX_FRAME_LEN, so this cannot fail.
    let mut buf = bufs.alloc_from(data).map_err(|e| PortError::Capture {
        port: port.to_string(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    buf.set_timestamp_ns(ts);
    Ok(buf)
}

impl RxQueue for ReplayQueue {
    fn rx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<RxOutcome, PortError> {
        if let Some(e) = self.deferred_error.take() {
            return Err(e);
        }
        let now = if self.pacer.needs_clock() {
            (self.clock)()
        } else {
            0
        };
        let room = batch.room();
        let mut n = 0;
        let mut bytes = 0u64;
        while n < room {
            let pkt = match self.pending.take() {
                Some(pkt) => pkt,
                None => match self.next_packet(bufs) {
                    Ok(Some(pkt)) => pkt,
                    Ok(None) => break,
                    Err(e) if n == 0 => return Err(e),
                    Err(e) => {
                        self.deferred_error = Some(e);
                        break;
                    }
                },
            };
            if !self.pacer.admit(now, pkt.len(), pkt.timestamp_ns()) {
                self.pending = Some(pkt);
                break;
            }
            bytes += pkt.len() as u64;
            // Cannot fail: n < room.
            let _ = batch.push(pkt);
            n += 1;
        }
        if n > 0 {
            self.counters.count_rx(n, bytes);
            Ok(RxOutcome::Received(n))
        } else if self.ended() {
            Ok(RxOutcome::Ended)
        } else {
            Ok(RxOutcome::Idle)
        }
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}
