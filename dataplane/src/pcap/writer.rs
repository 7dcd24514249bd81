//! Writing classic pcap with nanosecond timestamps, and the port that does it.
//!
//! The format is written by hand, little-endian whatever the machine: a 24-byte file
//! header (magic `0xa1b23c4d`, version 2.4, snaplen [`WRITER_SNAPLEN`], link type Ethernet)
//! and a 16-byte header per record (seconds, nanoseconds, captured length, original
//! length). Frames longer than the snaplen are cut to it, with the original length kept.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::Batch;
use crate::buf::BufCache;
use crate::port::{Port, PortError, PortQueues, QueueCounters, TxQueue};

use super::reader::LINKTYPE_ETHERNET;

/// Magic number of classic pcap with nanosecond timestamps.
pub const PCAP_NS_MAGIC: u32 = 0xa1b2_3c4d;

/// Snapshot length written in the file header; longer frames are cut to it.
pub const WRITER_SNAPLEN: u32 = 262_144;

/// Size of the writer's buffer in front of the file.
const WRITE_BUFFER: usize = 1 << 20;

const NS_PER_SEC: u64 = 1_000_000_000;

/// Writes frames to a classic pcap stream with nanosecond timestamps.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    records: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header to `out` and returns a writer of records.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&PCAP_NS_MAGIC.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) stay 0.
        header[16..20].copy_from_slice(&WRITER_SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&u32::from(LINKTYPE_ETHERNET).to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, records: 0 })
    }

    /// Writes one record: `frame` captured at `timestamp_ns` nanoseconds since the epoch.
    /// Timestamps past the year 2106 (beyond 32-bit seconds) are refused.
    #[inline]
    pub fn write_frame(&mut self, timestamp_ns: u64, frame: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(timestamp_ns / NS_PER_SEC).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("timestamp {timestamp_ns} ns is past what pcap can hold (year 2106)"),
            )
        })?;
        let nanos = (timestamp_ns % NS_PER_SEC) as u32;
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let caplen = orig_len.min(WRITER_SNAPLEN);
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&nanos.to_le_bytes());
        header[8..12].copy_from_slice(&caplen.to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(&frame[..caplen as usize])?;
        self.records += 1;
        Ok(())
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Writes `frames` (timestamp in nanoseconds, bytes) to a new pcap file at `path`.
pub fn write_frames<'a>(
    path: impl AsRef<Path>,
    frames: impl IntoIterator<Item = (u64, &'a [u8])>,
) -> io::Result<()> {
    let file = File::create(path)?;
    let mut writer = PcapWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file))?;
    for (ts, frame) in frames {
        writer.write_frame(ts, frame)?;
    }
    writer.flush()
}

/// A port writing what it is sent to a pcap file: one transmit queue, no receive queue.
///
/// Records are buffered; call [`TxQueue::flush`] on the queue to push them out and
/// learn of write errors. Dropping the queue flushes too, but can report nothing.
pub struct PcapWriterPort {
    path: PathBuf,
    queues: PortQueues,
}

impl std::fmt::Debug for PcapWriterPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriterPort")
            .field("name", &self.name())
            .field("path", &self.path)
            .finish()
    }
}

impl PcapWriterPort {
    /// A port named `name` writing to a new file at `path` (replacing any file there);
    /// the file header is written at once.
    pub fn create(name: &str, path: impl AsRef<Path>) -> Result<Self, PortError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |source| PortError::Io {
            port: name.to_string(),
            context: format!("creating {}", path.display()),
            source,
        };
        let file = File::create(&path).map_err(io_error)?;
        let writer =
            PcapWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file)).map_err(io_error)?;
        let counters = Arc::new(QueueCounters::default());
        let queue = WriterQueue {
            port: name.to_string(),
            path: path.clone(),
            writer,
            counters: counters.clone(),
        };
        Ok(PcapWriterPort {
            path,
            queues: PortQueues::new(name, Vec::new(), vec![Box::new(queue)], vec![counters]),
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Port for PcapWriterPort {
    fn queues(&self) -> &PortQueues {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut PortQueues {
        &mut self.queues
    }
}

struct WriterQueue {
    port: String,
    path: PathBuf,
    writer: PcapWriter<BufWriter<File>>,
    counters: Arc<QueueCounters>,
}

impl WriterQueue {
    fn io_error(&self, doing: &str, source: io::Error) -> PortError {
        PortError::Io {
            port: self.port.clone(),
            context: format!("{doing} {}", self.path.display()),
            source,
        }
    }
}

impl TxQueue for WriterQueue {
    /// Writes the whole batch and frees its buffers. On a write error the packets
    /// written are freed and counted, and the rest stay in the batch.
    fn tx_burst(&mut self, batch: &mut Batch, bufs: &mut BufCache) -> Result<usize, PortError> {
        let mut written = 0;
        let mut bytes = 0u64;
        let mut failure = None;
        for pkt in batch.iter() {
            if let Err(e) = self.writer.write_frame(pkt.timestamp_ns(), pkt.data()) {
                failure = Some(e);
                break;
            }
            written += 1;
            bytes += pkt.len() as u64;
        }
        bufs.free_all(batch.drain_front(written));
        self.counters.count_tx(written, bytes);
        match failure {
            None => Ok(written),
            Some(e) => Err(self.io_error("writing", e)),
        }
    }

    fn flush(&mut self) -> Result<(), PortError> {
        self.writer
            .flush()
            .map_err(|e| self.io_error("flushing", e))
    }

    fn counters(&self) -> Arc<QueueCounters> {
        self.counters.clone()
    }
}

impl Drop for WriterQueue {
    fn drop(&mut self) {
        // Errors cannot be returned from here; `flush` is the way to learn of them.
        let _ = self.writer.flush();
    }
}
