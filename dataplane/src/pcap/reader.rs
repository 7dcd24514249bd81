//! A streaming reader for classic pcap and pcapng captures.
//!
//! [`CaptureReader`] detects the format from the file's first bytes (never from its
//! name: many `.pcap` files are pcapng) and yields one [`Record`] at a time, borrowed
//! from its read buffer, with the timestamp converted to nanoseconds since the epoch.
//!
//! Framing is checked by the reader before a block reaches `pcap-parser`, which then
//! parses exactly one complete block: every length is bounded ([`MAX_FRAME_LEN`] for a
//! record's captured length, [`MAX_BLOCK_LEN`] for a pcapng block) and every step
//! consumes at least 12 bytes, so no input makes the reader allocate without bound,
//! panic or loop forever. Errors name the file and the byte offset of the record or
//! block at fault.
//!
//! A record's captured length may exceed the file's (or interface's) snapshot length, as
//! libpcap allows, but never [`MAX_FRAME_LEN`] (libpcap's own ceiling): a larger one is
//! an error, and no buffer is sized from it.
//!
//! A record cut short at the very end of the file (a capture that was killed) is not
//! an error: the reader stops there and says so in its [`ReadReport`]. A short tail
//! cannot be told apart from garbage whose declared length runs past the end of the
//! file, so such garbage is reported the same way; garbage that declares an impossible
//! length (the usual case) is an error.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use pcap_parser::nom;
use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock,
};
use pcap_parser::{OptionCode, PcapError, parse_pcap_header};

use crate::buf::MAX_FRAME_LEN;
use crate::port::PortError;

/// The link type of Ethernet frames (`LINKTYPE_ETHERNET`), the only one das replays.
pub const LINKTYPE_ETHERNET: u16 = 1;

/// Largest pcapng block the reader accepts (16 MiB). Packet blocks are further bounded
/// by [`MAX_FRAME_LEN`]; larger blocks exist only in corrupt or hostile files.
pub const MAX_BLOCK_LEN: usize = 16 << 20;

/// Size of the read buffer; it grows only for a pcapng block larger than this.
const READ_CHUNK: usize = 1 << 20;

const NS_PER_SEC: u64 = 1_000_000_000;

const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const PB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// File magics as they appear on disk.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const PCAP_US_LE: [u8; 4] = [0xd4, 0xc3, 0xb2, 0xa1];
const PCAP_US_BE: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
const PCAP_NS_LE: [u8; 4] = [0x4d, 0x3c, 0xb2, 0xa1];
const PCAP_NS_BE: [u8; 4] = [0xa1, 0xb2, 0x3c, 0x4d];
/// Kuznetzov's "modified" pcap: 8 more bytes per record header.
const PCAP_MODIFIED_LE: [u8; 4] = [0x34, 0xcd, 0xb2, 0xa1];
const KNOWN_MAGICS: [[u8; 4]; 6] = [
    PCAPNG_MAGIC,
    PCAP_US_LE,
    PCAP_US_BE,
    PCAP_NS_LE,
    PCAP_NS_BE,
    PCAP_MODIFIED_LE,
];

/// What is wrong with a capture's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file starts with neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng file (it starts with {})", hex(.start))]
    NotACapture {
        /// The first bytes of the file (up to 4).
        start: Vec<u8>,
    },
    /// The file ends inside its file header (pcap) or first section header (pcapng).
    #[error("truncated file header: the file ends after {have} of {need} bytes")]
    TruncatedHeader {
        /// Bytes the file has.
        have: u64,
        /// Bytes the header needs.
        need: u64,
    },
    /// A format version this reader does not know.
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// A record whose captured length no frame can have.
    #[error(
        "record captured length {caplen} exceeds the {limit}-byte frame limit (snaplen {snaplen})"
    )]
    RecordTooLong {
        /// Captured length declared by the record.
        caplen: u64,
        /// The file's (or interface's) snapshot length.
        snaplen: u32,
        /// The limit, [`MAX_FRAME_LEN`].
        limit: usize,
    },
    /// A pcapng block length that cannot be right.
    #[error("block type {block_type:#010x}: length {length} is {why}")]
    BadBlockLength {
        /// The block's type.
        block_type: u32,
        /// Its declared length.
        length: u32,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A pcapng block whose trailing length differs from its leading length.
    #[error(
        "block type {block_type:#010x}: trailing length {trailer} differs from leading length {length}"
    )]
    BlockLengthMismatch {
        /// The block's type.
        block_type: u32,
        /// The leading length.
        length: u32,
        /// The trailing length.
        trailer: u32,
    },
    /// A pcapng section header whose byte-order magic is neither byte order.
    #[error("section header byte-order magic {bom:#010x} is invalid")]
    BadByteOrderMagic {
        /// The value read (little-endian).
        bom: u32,
    },
    /// A packet block refers to an interface its section did not describe.
    #[error("packet refers to interface {interface} but the section describes {declared}")]
    UndeclaredInterface {
        /// Interface id in the packet block.
        interface: u32,
        /// Interfaces described so far in the section.
        declared: usize,
    },
    /// An interface's timestamp resolution is not representable.
    #[error("interface {interface}: invalid if_tsresol {value:#04x}")]
    BadTimestampResolution {
        /// Interface id.
        interface: usize,
        /// The option's value.
        value: u8,
    },
    /// A block whose contents do not parse.
    #[error("malformed {block} block: {detail}")]
    Malformed {
        /// The kind of block.
        block: &'static str,
        /// What the parser found.
        detail: String,
    },
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".into();
    }
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An error reading a capture: the file, and where in it.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: {context}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the reader was doing ("cannot open", "read error at byte N").
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The bytes are not a valid capture.
    #[error("{path}: at byte {offset}: {problem}")]
    Format {
        /// The file.
        path: String,
        /// Byte offset of the header, record or block at fault.
        offset: u64,
        /// What is wrong.
        problem: FormatError,
    },
}

impl CaptureError {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            CaptureError::Io { path, .. } | CaptureError::Format { path, .. } => path,
        }
    }

    /// The byte offset of a format error.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Format { offset, .. } => Some(*offset),
            CaptureError::Io { .. } => None,
        }
    }

    /// What is wrong with the bytes, for a format error.
    pub fn problem(&self) -> Option<&FormatError> {
        match self {
            CaptureError::Format { problem, .. } => Some(problem),
            CaptureError::Io { .. } => None,
        }
    }

    /// The same error as a port error of port `port`: [`PortError::Capture`] for a format
    /// error, [`PortError::Io`] for an I/O error.
    pub fn into_port_error(self, port: &str) -> PortError {
        match self {
            CaptureError::Io {
                path,
                context,
                source,
            } => PortError::Io {
                port: port.to_string(),
                context: format!("{path}: {context}"),
                source,
            },
            CaptureError::Format {
                path,
                offset,
                problem,
            } => PortError::Capture {
                port: port.to_string(),
                path,
                reason: format!("at byte {offset}: {problem}"),
            },
        }
    }
}

/// The format of a capture, as detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap.
    Pcap {
        /// Timestamps in nanoseconds (magic `0xa1b23c4d`) rather than microseconds.
        nanosecond: bool,
        /// Written big-endian.
        big_endian: bool,
    },
    /// pcapng (each section has its own byte order).
    PcapNg,
}

/// A capture that ended inside its last record: where, and how much was missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedTail {
    /// Byte offset of the incomplete record or block.
    pub offset: u64,
    /// Bytes of it the file holds.
    pub have: u64,
    /// Bytes it needs (at least this many, when its header is itself incomplete).
    pub need: u64,
}

impl std::fmt::Display for TruncatedTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "capture cut short: the record at byte {} has {} of its {} bytes; reading stopped there",
            self.offset, self.have, self.need
        )
    }
}

/// What a reader saw, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Packet records read (of every link type).
    pub records: u64,
    /// Bytes of the file consumed.
    pub bytes: u64,
    /// Set when the file ended inside a record (not an error; see [`TruncatedTail`]).
    pub truncated_tail: Option<TruncatedTail>,
}

/// One packet record of a capture, borrowed from the reader.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Capture time in nanoseconds since the UNIX epoch.
    pub timestamp_ns: u64,
    /// Link type of the record's interface ([`LINKTYPE_ETHERNET`] for Ethernet).
    pub link_type: u16,
    /// Length of the packet on the wire (at least `data.len()` in a sane file).
    pub orig_len: u32,
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Timestamp units of a pcapng interface, converted to nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsScale {
    /// Units are a whole number of nanoseconds.
    Mul(u64),
    /// Units are a whole fraction of a nanosecond.
    Div(u64),
    /// Any other resolution: units per second.
    Ratio(u64),
}

impl TsScale {
    /// The scale of an `if_tsresol` value, or `None` if it does not fit 64 bits.
    fn from_tsresol(tsresol: u8) -> Option<TsScale> {
        let exp = u32::from(tsresol & 0x7f);
        let units_per_sec = if tsresol & 0x80 == 0 {
            10u64.checked_pow(exp)?
        } else {
            1u64.checked_shl(exp)?
        };
        Some(if NS_PER_SEC % units_per_sec == 0 {
            TsScale::Mul(NS_PER_SEC / units_per_sec)
        } else if units_per_sec % NS_PER_SEC == 0 {
            TsScale::Div(units_per_sec / NS_PER_SEC)
        } else {
            TsScale::Ratio(units_per_sec)
        })
    }

    #[inline]
    fn to_ns(self, units: u64) -> u64 {
        match self {
            TsScale::Mul(m) => units.saturating_mul(m),
            TsScale::Div(d) => units / d,
            TsScale::Ratio(r) => {
                u64::try_from(u128::from(units) * u128::from(NS_PER_SEC) / u128::from(r))
                    .unwrap_or(u64::MAX)
            }
        }
    }
}

/// An interface of the current pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u16,
    snaplen: u32,
    scale: TsScale,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_s: i64,
}

impl Interface {
    #[inline]
    fn timestamp_ns(&self, ts_high: u32, ts_low: u32) -> u64 {
        let ns = self
            .scale
            .to_ns((u64::from(ts_high) << 32) | u64::from(ts_low));
        if self.offset_s == 0 {
            ns
        } else {
            let shifted = i128::from(ns) + i128::from(self.offset_s) * i128::from(NS_PER_SEC);
            shifted.clamp(0, i128::from(u64::MAX)) as u64
        }
    }
}

/// Where a record lies in the read buffer.
#[derive(Debug, Clone, Copy)]
struct RecordMeta {
    timestamp_ns: u64,
    link_type: u16,
    orig_len: u32,
    offset: u64,
    start: usize,
    len: usize,
}

/// What a step of the reader found.
enum Step {
    Record(RecordMeta),
    /// A block with no packet (pcapng); the loop goes on.
    Skipped,
    /// The end of the capture (clean or truncated).
    End,
}

/// A streaming reader of classic pcap and pcapng captures.
pub struct CaptureReader<R> {
    path: String,
    src: R,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    done: bool,
    format: CaptureFormat,
    /// Classic: the file's byte order; pcapng: the current section's.
    big_endian: bool,
    /// Classic pcap: record header length (16, or 24 for the modified format).
    rec_header_len: usize,
    /// Classic pcap: nanoseconds per unit of the fractional timestamp.
    frac_ns: u64,
    /// Classic pcap: the file's link type and snapshot length.
    link_type: u16,
    snaplen: u32,
    /// pcapng: interfaces of the current section.
    interfaces: Vec<Interface>,
    last_ts: u64,
    report: ReadReport,
}

impl<R> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("offset", &(self.base + self.start as u64))
            .field("report", &self.report)
            .finish()
    }
}

impl CaptureReader<File> {
    /// Opens the capture at `path` and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: name.clone(),
            context: "cannot open".into(),
            source,
        })?;
        CaptureReader::new(name, file)
    }
}

#[inline]
fn rd32(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

#[inline]
fn rd16(b: &[u8], at: usize, big_endian: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big_endian {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn parse_detail(e: nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "its contents overrun the block length".into(),
        nom::Err::Error(e) | nom::Err::Failure(e) => match e {
            PcapError::NomError(_, kind) => format!("invalid contents ({kind:?})"),
            other => other.to_owned_vec().to_string(),
        },
    }
}

fn block_name(block_type: u32) -> &'static str {
    match block_type {
        SHB_TYPE => "section header",
        IDB_TYPE => "interface description",
        PB_TYPE => "packet",
        SPB_TYPE => "simple packet",
        EPB_TYPE => "enhanced packet",
        _ => "other",
    }
}

impl<R: Read> CaptureReader<R> {
    /// A reader of the capture `source`, named `path` in errors; reads and checks the
    /// file header (classic pcap) or first section header (pcapng).
    pub fn new(path: impl Into<String>, source: R) -> Result<Self, CaptureError> {
        let mut reader = CaptureReader {
            path: path.into(),
            src: source,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            done: false,
            format: CaptureFormat::PcapNg,
            big_endian: false,
            rec_header_len: 16,
            frac_ns: 1000,
            link_type: LINKTYPE_ETHERNET,
            snaplen: 0,
            interfaces: Vec::new(),
            last_ts: 0,
            report: ReadReport::default(),
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// The file's name as used in errors.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The detected format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Byte offset of the next unread record or block.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Records read so far, bytes consumed and whether the file ended inside a record.
    pub fn report(&self) -> &ReadReport {
        &self.report
    }

    /// The next packet record, or `None` at the end of the capture (check
    /// [`ReadReport::truncated_tail`] to learn whether it ended cleanly). After an error
    /// or the end, every call returns `None`.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let step = if self.format == CaptureFormat::PcapNg {
            loop {
                match self.next_ng_block() {
                    Ok(Step::Skipped) => continue,
                    other => break other,
                }
            }
        } else {
            self.next_pcap_record()
        };
        self.report.bytes = self.offset();
        match step {
            Ok(Step::Record(m)) => {
                self.report.records += 1;
                self.last_ts = m.timestamp_ns;
                Ok(Some(Record {
                    timestamp_ns: m.timestamp_ns,
                    link_type: m.link_type,
                    orig_len: m.orig_len,
                    offset: m.offset,
                    data: &self.buf[m.start..m.start + m.len],
                }))
            }
            Ok(_) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn format_error(&self, offset: u64, problem: FormatError) -> CaptureError {
        CaptureError::Format {
            path: self.path.clone(),
            offset,
            problem,
        }
    }

    #[inline]
    fn available(&self) -> usize {
        self.end - self.start
    }

    /// Makes at least `n` unconsumed bytes available; `false` if the file ends first.
    #[inline]
    fn fill(&mut self, n: usize) -> Result<bool, CaptureError> {
        if self.available() >= n {
            return Ok(true);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> Result<bool, CaptureError> {
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_multiple_of(READ_CHUNK), 0);
            }
        }
        while self.available() < n {
            if self.eof {
                return Ok(false);
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        path: self.path.clone(),
                        context: format!("read error at byte {}", self.base + self.end as u64),
                        source,
                    });
                }
            }
        }
        Ok(true)
    }

    fn read_file_header(&mut self) -> Result<(), CaptureError> {
        self.fill(4)?;
        let have = self.available();
        let start = &self.buf[self.start..self.start + have.min(4)];
        if have < 4 {
            let prefix_of_magic = have > 0 && KNOWN_MAGICS.iter().any(|m| m.starts_with(start));
            let need = if have > 0 && PCAPNG_MAGIC.starts_with(start) {
                28
            } else {
                24
            };
            let problem = if have == 0 || prefix_of_magic {
                FormatError::TruncatedHeader {
                    have: have as u64,
                    need,
                }
            } else {
                FormatError::NotACapture {
                    start: start.to_vec(),
                }
            };
            return Err(self.format_error(0, problem));
        }
        let magic: [u8; 4] = [start[0], start[1], start[2], start[3]];
        if magic == PCAPNG_MAGIC {
            self.read_first_section_header()
        } else if KNOWN_MAGICS.contains(&magic) {
            self.read_pcap_header(magic)
        } else {
            Err(self.format_error(
                0,
                FormatError::NotACapture {
                    start: magic.to_vec(),
                },
            ))
        }
    }

    fn read_pcap_header(&mut self, magic: [u8; 4]) -> Result<(), CaptureError> {
        if !self.fill(24)? {
            let have = self.available() as u64;
            return Err(self.format_error(0, FormatError::TruncatedHeader { have, need: 24 }));
        }
        let header = match parse_pcap_header(&self.buf[self.start..self.start + 24]) {
            Ok((_, h)) => h,
            Err(e) => {
                let detail = parse_detail(e);
                return Err(self.format_error(
                    0,
                    FormatError::Malformed {
                        block: "pcap file header",
                        detail,
                    },
                ));
            }
        };
        if header.version_major != 2 {
            return Err(self.format_error(
                0,
                FormatError::UnsupportedVersion {
                    format: "pcap",
                    major: header.version_major,
                    minor: header.version_minor,
                },
            ));
        }
        let nanosecond = header.is_nanosecond_precision();
        self.big_endian = header.is_bigendian();
        self.format = CaptureFormat::Pcap {
            nanosecond,
            big_endian: self.big_endian,
        };
        self.rec_header_len = if magic == PCAP_MODIFIED_LE { 24 } else { 16 };
        self.frac_ns = if nanosecond { 1 } else { 1000 };
        // The low 16 bits are the link type; the high bits may carry FCS information.
        self.link_type = (header.network.0 as u32 & 0xffff) as u16;
        self.snaplen = header.snaplen;
        self.start += 24;
        Ok(())
    }

    fn read_first_section_header(&mut self) -> Result<(), CaptureError> {
        // The first section header must be complete: a cut there is a truncated header,
        // not a truncated tail.
        if !self.fill(12)? {
            let have = self.available() as u64;
            return Err(self.format_error(0, FormatError::TruncatedHeader { have, need: 28 }));
        }
        let bom = rd32(&self.buf, self.start + 8, false);
        let big_endian = match bom {
            BYTE_ORDER_MAGIC => false,
            _ if bom.swap_bytes() == BYTE_ORDER_MAGIC => true,
            _ => return Err(self.format_error(8, FormatError::BadByteOrderMagic { bom })),
        };
        let len = rd32(&self.buf, self.start + 4, big_endian) as usize;
        if (28..=MAX_BLOCK_LEN).contains(&len) && !self.fill(len)? {
            let have = self.available() as u64;
            return Err(self.format_error(
                0,
                FormatError::TruncatedHeader {
                    have,
                    need: len as u64,
                },
            ));
        }
        // Length checks and parsing are those of any block. The block is a complete
        // section header here, which yields no record and no end.
        self.format = CaptureFormat::PcapNg;
        match self.next_ng_block()? {
            Step::Skipped => Ok(()),
            Step::Record(_) | Step::End => Err(self.format_error(
                0,
                FormatError::Malformed {
                    block: "section header",
                    detail: "the file does not start with a complete section header".into(),
                },
            )),
        }
    }

    /// The end of the capture at `offset`: clean if nothing is left, else a truncated
    /// tail of `need` bytes.
    fn end_at(&mut self, offset: u64, need: usize) -> Result<Step, CaptureError> {
        let have = self.available();
        if have > 0 {
            self.report.truncated_tail = Some(TruncatedTail {
                offset,
                have: have as u64,
                need: need as u64,
            });
            self.start = self.end;
        }
        Ok(Step::End)
    }

    fn next_pcap_record(&mut self) -> Result<Step, CaptureError> {
        let offset = self.offset();
        let hl = self.rec_header_len;
        if !self.fill(hl)? {
            return self.end_at(offset, hl);
        }
        let caplen = rd32(&self.buf, self.start + 8, self.big_endian) as usize;
        if caplen > MAX_FRAME_LEN {
            return Err(self.format_error(
                offset,
                FormatError::RecordTooLong {
                    caplen: caplen as u64,
                    snaplen: self.snaplen,
                    limit: MAX_FRAME_LEN,
                },
            ));
        }
        let total = hl + caplen;
        if !self.fill(total)? {
            return self.end_at(offset, total);
        }
        let bytes = &self.buf[self.start..self.start + total];
        let parsed = match (hl, self.big_endian) {
            (24, _) => pcap_parser::parse_pcap_frame_modified(bytes),
            (_, true) => pcap_parser::parse_pcap_frame_be(bytes),
            (_, false) => pcap_parser::parse_pcap_frame(bytes),
        };
        let (ts_sec, ts_frac, orig_len) = match parsed {
            Ok((_, rec)) => (rec.ts_sec, rec.ts_usec, rec.origlen),
            Err(e) => {
                let detail = parse_detail(e);
                return Err(self.format_error(
                    offset,
                    FormatError::Malformed {
                        block: "pcap record",
                        detail,
                    },
                ));
            }
        };
        // Out-of-range fractions are tolerated (as libpcap does) and carry into seconds.
        let timestamp_ns = u64::from(ts_sec) * NS_PER_SEC + u64::from(ts_frac) * self.frac_ns;
        let start = self.start + hl;
        self.start += total;
        Ok(Step::Record(RecordMeta {
            timestamp_ns,
            link_type: self.link_type,
            orig_len,
            offset,
            start,
            len: caplen,
        }))
    }

    /// Reads one pcapng block, checking its framing before parsing it.
    fn next_ng_block(&mut self) -> Result<Step, CaptureError> {
        let offset = self.offset();
        // `fill` may move the unconsumed bytes: read through `self.start` until the
        // whole block is in.
        if !self.fill(8)? {
            return self.end_at(offset, 8);
        }
        let block_type = rd32(&self.buf, self.start, self.big_endian);
        let big_endian = if block_type == SHB_TYPE {
            // A new section may change the byte order: read it from the block itself.
            if !self.fill(12)? {
                return self.end_at(offset, 12);
            }
            let bom = rd32(&self.buf, self.start + 8, false);
            match bom {
                BYTE_ORDER_MAGIC => false,
                _ if bom.swap_bytes() == BYTE_ORDER_MAGIC => true,
                _ => {
                    return Err(self.format_error(offset, FormatError::BadByteOrderMagic { bom }));
                }
            }
        } else {
            self.big_endian
        };
        let length = rd32(&self.buf, self.start + 4, big_endian);
        let len = length as usize;
        let min_len = match block_type {
            SHB_TYPE => 28,
            IDB_TYPE => 20,
            EPB_TYPE | PB_TYPE => 32,
            SPB_TYPE => 16,
            _ => 12,
        };
        let bad_length = |why| FormatError::BadBlockLength {
            block_type,
            length,
            why,
        };
        if len < 12 {
            return Err(self.format_error(offset, bad_length("shorter than the 12-byte minimum")));
        }
        if len % 4 != 0 {
            return Err(self.format_error(offset, bad_length("not a multiple of 4")));
        }
        if len > MAX_BLOCK_LEN {
            return Err(self.format_error(offset, bad_length("larger than the 16 MiB limit")));
        }
        if len < min_len {
            return Err(self.format_error(offset, bad_length("too short for its block type")));
        }
        // Packet blocks: bound the captured length before reading the block.
        if block_type == EPB_TYPE || block_type == PB_TYPE {
            if !self.fill(24)? {
                return self.end_at(offset, len);
            }
            let caplen = rd32(&self.buf, self.start + 20, big_endian) as usize;
            if caplen > MAX_FRAME_LEN {
                let if_id = if block_type == EPB_TYPE {
                    rd32(&self.buf, self.start + 8, big_endian)
                } else {
                    u32::from(rd16(&self.buf, self.start + 8, big_endian))
                };
                let snaplen = self.interfaces.get(if_id as usize).map_or(0, |i| i.snaplen);
                return Err(self.format_error(
                    offset,
                    FormatError::RecordTooLong {
                        caplen: caplen as u64,
                        snaplen,
                        limit: MAX_FRAME_LEN,
                    },
                ));
            }
            if 32 + caplen.next_multiple_of(4) > len {
                return Err(self.format_error(
                    offset,
                    FormatError::Malformed {
                        block: block_name(block_type),
                        detail: format!("captured length {caplen} overruns the {len}-byte block"),
                    },
                ));
            }
        }
        if !self.fill(len)? {
            return self.end_at(offset, len);
        }
        let s = self.start;
        let trailer = rd32(&self.buf, s + len - 4, big_endian);
        if trailer != length {
            return Err(self.format_error(
                offset,
                FormatError::BlockLengthMismatch {
                    block_type,
                    length,
                    trailer,
                },
            ));
        }
        let step = match block_type {
            SHB_TYPE => self.section_header(offset, len, big_endian)?,
            IDB_TYPE => self.interface_description(offset, len)?,
            EPB_TYPE => self.enhanced_packet(offset, len)?,
            SPB_TYPE => self.simple_packet(offset, len)?,
            PB_TYPE => self.obsolete_packet(offset)?,
            _ => Step::Skipped,
        };
        self.start = s + len;
        Ok(step)
    }

    fn malformed(
        &self,
        offset: u64,
        block_type: u32,
        e: nom::Err<PcapError<&[u8]>>,
    ) -> CaptureError {
        self.format_error(
            offset,
            FormatError::Malformed {
                block: block_name(block_type),
                detail: parse_detail(e),
            },
        )
    }

    /// The current block, `len` bytes long (its framing has been checked).
    #[inline]
    fn block(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len]
    }

    fn section_header(
        &mut self,
        offset: u64,
        len: usize,
        big_endian: bool,
    ) -> Result<Step, CaptureError> {
        self.big_endian = big_endian;
        let (major, minor) = match parse_sectionheaderblock(self.block(len)) {
            Ok((_, shb)) => (shb.major_version, shb.minor_version),
            Err(e) => {
                let e = parse_detail(e);
                return Err(self.format_error(
                    offset,
                    FormatError::Malformed {
                        block: "section header",
                        detail: e,
                    },
                ));
            }
        };
        if major != 1 {
            return Err(self.format_error(
                offset,
                FormatError::UnsupportedVersion {
                    format: "pcapng",
                    major,
                    minor,
                },
            ));
        }
        self.interfaces.clear();
        Ok(Step::Skipped)
    }

    fn interface_description(&mut self, offset: u64, len: usize) -> Result<Step, CaptureError> {
        let big_endian = self.big_endian;
        let parsed = if big_endian {
            parse_interfacedescriptionblock_be(self.block(len))
        } else {
            parse_interfacedescriptionblock_le(self.block(len))
        };
        let idb = match parsed {
            Ok((_, idb)) => idb,
            Err(e) => return Err(self.malformed(offset, IDB_TYPE, e)),
        };
        // Read the options here: the parser's own if_tsoffset ignores the byte order,
        // and its if_tsresol check refuses every power-of-two resolution.
        let mut tsresol = 6u8;
        let mut offset_s = 0i64;
        for opt in &idb.options {
            let value = opt.as_bytes().unwrap_or(&[]);
            if opt.code == OptionCode::IfTsresol && !value.is_empty() {
                tsresol = value[0];
            } else if opt.code == OptionCode::IfTsoffset && value.len() >= 8 {
                let v = [
                    value[0], value[1], value[2], value[3], value[4], value[5], value[6], value[7],
                ];
                offset_s = if big_endian {
                    i64::from_be_bytes(v)
                } else {
                    i64::from_le_bytes(v)
                };
            }
        }
        let link_type = idb.linktype.0 as u16;
        let snaplen = idb.snaplen;
        let interface = self.interfaces.len();
        let Some(scale) = TsScale::from_tsresol(tsresol) else {
            return Err(self.format_error(
                offset,
                FormatError::BadTimestampResolution {
                    interface,
                    value: tsresol,
                },
            ));
        };
        self.interfaces.push(Interface {
            link_type,
            snaplen,
            scale,
            offset_s,
        });
        Ok(Step::Skipped)
    }

    fn interface(&self, offset: u64, id: u32) -> Result<Interface, CaptureError> {
        self.interfaces.get(id as usize).copied().ok_or_else(|| {
            self.format_error(
                offset,
                FormatError::UndeclaredInterface {
                    interface: id,
                    declared: self.interfaces.len(),
                },
            )
        })
    }

    fn enhanced_packet(&mut self, offset: u64, len: usize) -> Result<Step, CaptureError> {
        let parsed = if self.big_endian {
            parse_enhancedpacketblock_be(self.block(len))
        } else {
            parse_enhancedpacketblock_le(self.block(len))
        };
        let (if_id, ts_high, ts_low, caplen, orig_len) = match parsed {
            Ok((_, epb)) => (epb.if_id, epb.ts_high, epb.ts_low, epb.caplen, epb.origlen),
            Err(e) => return Err(self.malformed(offset, EPB_TYPE, e)),
        };
        let iface = self.interface(offset, if_id)?;
        Ok(Step::Record(RecordMeta {
            timestamp_ns: iface.timestamp_ns(ts_high, ts_low),
            link_type: iface.link_type,
            orig_len,
            offset,
            start: self.start + 28,
            len: caplen as usize,
        }))
    }

    fn simple_packet(&mut self, offset: u64, block_len: usize) -> Result<Step, CaptureError> {
        let iface = self.interface(offset, 0)?;
        let orig_len = rd32(&self.buf, self.start + 8, self.big_endian);
        // The captured length is the original length, cut to the interface's snapshot
        // length and to the block.
        let mut len = (orig_len as usize).min(block_len - 16);
        if iface.snaplen != 0 {
            len = len.min(iface.snaplen as usize);
        }
        if len > MAX_FRAME_LEN {
            return Err(self.format_error(
                offset,
                FormatError::RecordTooLong {
                    caplen: len as u64,
                    snaplen: iface.snaplen,
                    limit: MAX_FRAME_LEN,
                },
            ));
        }
        Ok(Step::Record(RecordMeta {
            // A simple packet block has no timestamp: it inherits the previous one.
            timestamp_ns: self.last_ts,
            link_type: iface.link_type,
            orig_len,
            offset,
            start: self.start + 12,
            len,
        }))
    }

    /// The obsolete packet block (type 2), which `pcap-parser` does not decode: interface
    /// id (16 bits), drop count (16 bits), timestamp, captured and original lengths.
    fn obsolete_packet(&mut self, offset: u64) -> Result<Step, CaptureError> {
        let (s, be) = (self.start, self.big_endian);
        let if_id = u32::from(rd16(&self.buf, s + 8, be));
        let ts_high = rd32(&self.buf, s + 12, be);
        let ts_low = rd32(&self.buf, s + 16, be);
        let caplen = rd32(&self.buf, s + 20, be) as usize;
        let orig_len = rd32(&self.buf, s + 24, be);
        let iface = self.interface(offset, if_id)?;
        Ok(Step::Record(RecordMeta {
            timestamp_ns: iface.timestamp_ns(ts_high, ts_low),
            link_type: iface.link_type,
            orig_len,
            offset,
            start: s + 28,
            len: caplen,
        }))
    }
}
