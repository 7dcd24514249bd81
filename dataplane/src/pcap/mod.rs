//! Pcap and pcapng ports: replaying captures in, writing captures out.
//!
//! - [`CaptureReader`] streams classic pcap (microsecond or nanosecond timestamps,
//!   either byte order) and pcapng (several sections, several interfaces with their own
//!   link types and timestamp resolutions; enhanced, simple and obsolete packet blocks),
//!   detecting the format from the content. Hostile input gives a [`CaptureError`]
//!   naming the file and byte offset; a capture cut short in its last record is read up
//!   to there and says so in its [`ReadReport`].
//! - [`PcapPort`] replays a capture as a port with one receive queue, at a [`Pace`]
//!   (as fast as pulled, packets/s, Mbit/s or the capture's own timing), any number of
//!   loops; the pacing decisions live in the pure [`Pacer`].
//! - [`PcapWriterPort`] writes what it is sent to a classic pcap file with nanosecond
//!   timestamps, through [`PcapWriter`].
//! - [`read_frames`] and [`write_frames`] read and write whole files, for tests and tools.

mod pace;
mod reader;
mod replay;
mod writer;

use std::path::Path;

pub use pace::{Pace, PaceError, Pacer};
pub use reader::{
    CaptureError, CaptureFormat, CaptureReader, FormatError, LINKTYPE_ETHERNET, MAX_BLOCK_LEN,
    ReadReport, Record, TruncatedTail,
};
pub use replay::{ClockFn, DEFAULT_CACHE_BUDGET, PcapPort, ReplayConfig, ReplayReport};
pub use writer::{PCAP_NS_MAGIC, PcapWriter, PcapWriterPort, WRITER_SNAPLEN, write_frames};

/// One record of a capture, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Capture time in nanoseconds since the UNIX epoch.
    pub timestamp_ns: u64,
    /// Link type of the record ([`LINKTYPE_ETHERNET`] for Ethernet).
    pub link_type: u16,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Every record of the capture at `path` (of every link type), in file order. A
/// record cut short at the end of the file is left out; see [`read_frames_with_report`]
/// to learn of it.
pub fn read_frames(path: impl AsRef<Path>) -> Result<Vec<CapturedFrame>, CaptureError> {
    read_frames_with_report(path).map(|(frames, _)| frames)
}

/// Like [`read_frames`], with the reader's report (records, truncated tail).
pub fn read_frames_with_report(
    path: impl AsRef<Path>,
) -> Result<(Vec<CapturedFrame>, ReadReport), CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut frames = Vec::new();
    while let Some(rec) = reader.next_record()? {
        frames.push(CapturedFrame {
            timestamp_ns: rec.timestamp_ns,
            link_type: rec.link_type,
            data: rec.data.to_vec(),
        });
    }
    Ok((frames, reader.report().clone()))
}
