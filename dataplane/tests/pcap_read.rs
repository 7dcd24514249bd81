//! The capture reader: the shared corpus, hand-built pcapng and pcap files, hostile
//! input and random corruption.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use dataplane::buf::MAX_FRAME_LEN;
use dataplane::pcap::{
    CaptureError, CaptureFormat, CaptureReader, FormatError, LINKTYPE_ETHERNET, TruncatedTail,
    read_frames, read_frames_with_report,
};
use proptest::prelude::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/pcaps");

/// The corpus README's table: file, packets, whether the content is pcapng.
const CORPUS_TABLE: [(&str, u64, bool); 12] = [
    ("capture-Thu-11-24-16-10-28-11_cerber.pcap", 15_236, true),
    ("capture-Tue-11-29-16-12-26-16_rig.pcap", 5_906, true),
    ("malware_infection.pcap", 5_730, true),
    ("ultra_lab_03-14.pcap", 9_842, true),
    ("miscellaneous.pcap", 6_641, true),
    ("DNS.pcap", 2_999, false),
    ("SSL.pcap", 6_742, false),
    ("TFTP.pcap", 7_272, false),
    ("wannacry.pcap", 4_981, false),
    ("eternalromance-doublepulsar-meterpreter.pcap", 740, false),
    ("ek_to_cryptowall4.pcapng", 653, true),
    ("http_espn.pcapng", 956, true),
];

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(CORPUS);
    assert!(
        dir.is_dir(),
        "the pcap corpus is missing: looked for it at {} (the shared corpus folder next to \
         the workspace)",
        dir.display()
    );
    dir
}

// ---------------------------------------------------------------------------------------
// Building captures by hand.

/// A pcapng file under construction; each section has its own byte order.
struct Ng {
    out: Vec<u8>,
    big_endian: bool,
}

impl Ng {
    fn new() -> Self {
        Ng {
            out: Vec::new(),
            big_endian: false,
        }
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let len = (12 + body.len().next_multiple_of(4)) as u32;
        let (t, l) = (self.u32(block_type), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.resize(
            self.out.len() + body.len().next_multiple_of(4) - body.len(),
            0,
        );
        self.out.extend_from_slice(&l);
        self
    }

    fn section(&mut self, big_endian: bool) -> &mut Self {
        self.big_endian = big_endian;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1A2B_3C4D));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]); // section length: unknown
        self.block(0x0A0D_0D0A, &body)
    }

    fn interface(
        &mut self,
        link_type: u16,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(link_type));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(0)); // snaplen: none
        if let Some(r) = tsresol {
            body.extend_from_slice(&self.u16(9));
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend_from_slice(&self.u16(14));
            body.extend_from_slice(&self.u16(8));
            let bytes = if self.big_endian {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            body.extend_from_slice(&bytes);
        }
        body.extend_from_slice(&[0; 4]); // end of options
        self.block(1, &body)
    }

    fn enhanced(&mut self, if_id: u32, ts: u64, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(if_id));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    fn simple(&mut self, data: &[u8]) -> &mut Self {
        let mut body = self.u32(data.len() as u32).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    fn obsolete(&mut self, if_id: u16, ts: u64, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(if_id));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    fn bytes(&self) -> Vec<u8> {
        self.out.clone()
    }
}

/// A classic pcap file: byte order, nanosecond timestamps, link type, records
/// (seconds, fraction, data).
fn classic(
    big_endian: bool,
    nanos: bool,
    link_type: u32,
    records: &[(u32, u32, &[u8])],
) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&u32b(65_535));
    out.extend_from_slice(&u32b(link_type));
    for &(sec, frac, data) in records {
        out.extend_from_slice(&u32b(sec));
        out.extend_from_slice(&u32b(frac));
        out.extend_from_slice(&u32b(data.len() as u32));
        out.extend_from_slice(&u32b(data.len() as u32));
        out.extend_from_slice(data);
    }
    out
}

fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

/// A record read back: timestamp, link type, data.
type Rec = (u64, u16, Vec<u8>);

/// Reads every record from memory, then the truncated tail if any.
fn read_all(bytes: &[u8]) -> Result<(Vec<Rec>, Option<TruncatedTail>), CaptureError> {
    let mut reader = CaptureReader::new("mem.pcap", Cursor::new(bytes))?;
    let mut out = Vec::new();
    while let Some(rec) = reader.next_record()? {
        out.push((rec.timestamp_ns, rec.link_type, rec.data.to_vec()));
    }
    Ok((out, reader.report().truncated_tail))
}

fn format_error(bytes: &[u8]) -> (u64, FormatError, String) {
    match read_all(bytes) {
        Err(e @ CaptureError::Format { .. }) => {
            let text = e.to_string();
            (e.offset().unwrap(), e.problem().unwrap().clone(), text)
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The corpus.

#[test]
fn every_corpus_capture_reads_with_the_readme_packet_count() {
    let dir = corpus_dir();
    let mut total = 0;
    for (name, packets, pcapng) in CORPUS_TABLE {
        let path = dir.join(name);
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            reader.format() == CaptureFormat::PcapNg,
            pcapng,
            "{name}: format {:?}",
            reader.format()
        );
        let mut n = 0u64;
        while let Some(rec) = reader.next_record().unwrap_or_else(|e| panic!("{e}")) {
            assert_eq!(rec.link_type, LINKTYPE_ETHERNET, "{name}");
            assert!(
                rec.data.len() >= 14,
                "{name}: record {n} is {} bytes",
                rec.data.len()
            );
            n += 1;
        }
        let report = reader.report();
        assert_eq!(n, packets, "{name}");
        assert_eq!(report.records, packets, "{name}");
        assert_eq!(report.truncated_tail, None, "{name}");
        assert_eq!(
            report.bytes,
            std::fs::metadata(&path).unwrap().len(),
            "{name}"
        );
        total += n;
    }
    assert_eq!(total, 67_698);
}

/// Every timestamp and length of a pcapng and a classic pcap capture agrees with tshark.
#[test]
fn corpus_timestamps_and_lengths_match_tshark() {
    if !tshark_available() {
        return;
    }
    let dir = corpus_dir();
    for name in [
        "http_espn.pcapng",
        "eternalromance-doublepulsar-meterpreter.pcap",
    ] {
        let path = dir.join(name);
        let ours: Vec<(u64, usize)> = read_frames(&path)
            .unwrap()
            .iter()
            .map(|f| (f.timestamp_ns, f.data.len()))
            .collect();
        let out = tshark(&path, &["-e", "frame.time_epoch", "-e", "frame.cap_len"]);
        let theirs: Vec<(u64, usize)> = out
            .lines()
            .map(|line| {
                let (ts, len) = line.split_once('\t').unwrap();
                (epoch_ns(ts), len.parse().unwrap())
            })
            .collect();
        assert_eq!(ours.len(), theirs.len(), "{name}");
        assert!(
            ours == theirs,
            "{name}: timestamps or lengths differ from tshark's"
        );
    }
}

fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("DAS_REQUIRE_TSHARK").as_deref() != Ok("1"),
            "tshark is not installed and DAS_REQUIRE_TSHARK=1"
        );
        eprintln!("skipped: tshark is not installed (set DAS_REQUIRE_TSHARK=1 to fail instead)");
    }
    found
}

fn tshark(path: &Path, fields: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields"])
        .args(fields)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// "1270661369.782934000" as nanoseconds.
fn epoch_ns(text: &str) -> u64 {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap()
}

// ---------------------------------------------------------------------------------------
// Formats.

#[test]
fn classic_pcap_in_both_byte_orders_and_resolutions() {
    let a = frame(1, 60);
    let b = frame(2, 1514);
    for big_endian in [false, true] {
        for nanos in [false, true] {
            let frac = if nanos { 123_456_789 } else { 123_456 };
            let bytes = classic(
                big_endian,
                nanos,
                1,
                &[(1_700_000_000, frac, &a), (1_700_000_001, 0, &b)],
            );
            let mut reader = CaptureReader::new("mem.pcap", Cursor::new(&bytes)).unwrap();
            assert_eq!(
                reader.format(),
                CaptureFormat::Pcap {
                    nanosecond: nanos,
                    big_endian
                }
            );
            let rec = reader.next_record().unwrap().unwrap();
            let expect = 1_700_000_000_000_000_000 + if nanos { 123_456_789 } else { 123_456_000 };
            assert_eq!((rec.timestamp_ns, rec.data), (expect, &a[..]));
            let rec = reader.next_record().unwrap().unwrap();
            assert_eq!(
                (rec.timestamp_ns, rec.data),
                (1_700_000_001_000_000_000, &b[..])
            );
            assert!(reader.next_record().unwrap().is_none());
        }
    }
}

#[test]
fn pcapng_sections_interfaces_resolutions_and_packet_blocks() {
    let (a, b, c, d, e) = (
        frame(1, 60),
        frame(2, 61),
        frame(3, 62),
        frame(4, 63),
        frame(5, 64),
    );
    let bytes = Ng::new()
        // Section 1, little-endian: Ethernet in microseconds (the default), raw IP in ns.
        .section(false)
        .interface(1, None, None)
        .interface(101, Some(9), None)
        .block(4, &[0; 8]) // name resolution: skipped
        .enhanced(0, 1_600_000_000_123_456, &a)
        .enhanced(1, 1_600_000_000_123_456_789, &b)
        .simple(&c) // interface 0, no timestamp: inherits the last one
        .block(5, &[0; 16]) // interface statistics: skipped
        .block(0x0000_0BAD, &[0; 12]) // custom: skipped
        // Section 2, big-endian: a 2^-10 s interface with a 100 s offset, then Ethernet
        // in tenths of a second through an obsolete packet block.
        .section(true)
        .interface(1, Some(0x80 | 10), Some(100))
        .interface(1, Some(1), None)
        .enhanced(0, 3 * 1024 + 512, &d)
        .obsolete(1, 17, &e)
        .bytes();
    let (records, tail) = read_all(&bytes).unwrap();
    assert_eq!(tail, None);
    let expect: Vec<Rec> = vec![
        (1_600_000_000_123_456_000, 1, a),
        (1_600_000_000_123_456_789, 101, b),
        (1_600_000_000_123_456_789, 1, c),
        (103_500_000_000, 1, d),
        (1_700_000_000, 1, e),
    ];
    assert_eq!(records, expect);
}

#[test]
fn files_named_pcap_may_hold_pcapng() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("looks-classic.pcap");
    let bytes = Ng::new()
        .section(false)
        .interface(1, None, None)
        .enhanced(0, 5, &frame(0, 60))
        .bytes();
    std::fs::write(&path, bytes).unwrap();
    let reader = CaptureReader::open(&path).unwrap();
    assert_eq!(reader.format(), CaptureFormat::PcapNg);
    assert_eq!(read_frames(&path).unwrap()[0].timestamp_ns, 5_000);
}

// ---------------------------------------------------------------------------------------
// Hostile input.

#[test]
fn wrong_magic_is_not_a_capture_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.pcap");
    std::fs::write(&path, "<html>this is not a capture</html>").unwrap();
    let err = CaptureReader::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not a pcap or pcapng file"), "{text}");
    assert!(text.contains("notes.pcap"), "{text}");
    assert!(text.contains("at byte 0"), "{text}");
    assert!(matches!(
        err.problem(),
        Some(FormatError::NotACapture { .. })
    ));
    let (_, problem, _) = format_error(b"ab");
    assert!(matches!(problem, FormatError::NotACapture { .. }));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = CaptureReader::open("no/such/file.pcap").unwrap_err();
    assert!(matches!(err, CaptureError::Io { .. }));
    assert!(err.to_string().contains("no/such/file.pcap"), "{err}");
}

#[test]
fn truncated_headers_are_errors() {
    let pcap = classic(false, false, 1, &[]);
    for cut in [0, 2, 10, 23] {
        let (offset, problem, _) = format_error(&pcap[..cut]);
        assert_eq!(offset, 0);
        assert!(
            matches!(problem, FormatError::TruncatedHeader { have, .. } if have == cut as u64),
            "{problem}"
        );
    }
    let ng = Ng::new().section(false).bytes();
    for cut in [4, 11, 20, 27] {
        let (_, problem, _) = format_error(&ng[..cut]);
        assert_eq!(
            problem,
            FormatError::TruncatedHeader {
                have: cut as u64,
                need: 28
            }
        );
    }
}

#[test]
fn absurd_captured_lengths_are_errors_with_the_record_offset() {
    let mut bytes = classic(false, false, 1, &[(1, 0, &frame(0, 60))]);
    let second = bytes.len() as u64;
    bytes.extend_from_slice(&classic(false, false, 1, &[(2, 0, &[])])[24..]);
    // Second record: caplen far beyond the snaplen and the frame limit.
    bytes[second as usize + 8..second as usize + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let (offset, problem, text) = format_error(&bytes);
    assert_eq!(offset, second);
    assert_eq!(
        problem,
        FormatError::RecordTooLong {
            caplen: 0x7fff_0000,
            snaplen: 65_535,
            limit: MAX_FRAME_LEN
        }
    );
    assert!(text.contains(&format!("at byte {second}")), "{text}");
    // Just over the limit in a pcapng enhanced packet block.
    let mut ng = Ng::new();
    ng.section(false).interface(1, None, None);
    let epb = ng.out.len();
    ng.enhanced(0, 1, &frame(0, 64));
    let mut bytes = ng.bytes();
    bytes[epb + 20..epb + 24].copy_from_slice(&(MAX_FRAME_LEN as u32 + 1).to_le_bytes());
    let (offset, problem, _) = format_error(&bytes);
    assert_eq!(offset, epb as u64);
    assert!(
        matches!(problem, FormatError::RecordTooLong { .. }),
        "{problem}"
    );
}

#[test]
fn inconsistent_pcapng_block_lengths_are_errors() {
    let mut ng = Ng::new();
    ng.section(false).interface(1, None, None);
    let at = ng.out.len();
    ng.enhanced(0, 1, &frame(0, 64));
    let good = ng.bytes();
    let set = |pos: usize, v: u32| {
        let mut b = good.clone();
        b[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    let block_len = u32::from_le_bytes(good[at + 4..at + 8].try_into().unwrap());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (set(at + 4, 8), "shorter than the 12-byte minimum"),
        (set(at + 4, 30), "not a multiple of 4"),
        (set(at + 4, 0x7fff_fff0), "larger than the 16 MiB limit"),
        (set(at + 4, 24), "too short for its block type"),
        (set(good.len() - 4, block_len + 4), "trailing length"),
        (set(at + 20, 80), "overruns"),
    ];
    for (bytes, expect) in cases {
        let (offset, _, text) = format_error(&bytes);
        assert_eq!(offset, at as u64, "{text}");
        assert!(text.contains(expect), "{text} (expected {expect:?})");
    }
    // A leading length that disagrees with the trailer, the block being complete.
    let mut bytes = good.clone();
    bytes.extend_from_slice(&[0; 4]);
    bytes[at + 4..at + 8].copy_from_slice(&(block_len + 4).to_le_bytes());
    let (_, problem, _) = format_error(&bytes);
    assert!(
        matches!(problem, FormatError::BlockLengthMismatch { .. }),
        "{problem}"
    );
}

#[test]
fn garbage_after_a_valid_prefix_is_an_error_at_its_offset() {
    let ng = Ng::new()
        .section(false)
        .interface(1, None, None)
        .enhanced(0, 1, &frame(0, 60))
        .bytes();
    let pcap = classic(false, true, 1, &[(1, 2, &frame(0, 60))]);
    for valid in [ng, pcap] {
        let mut bytes = valid.clone();
        bytes.extend_from_slice(&[0xee; 64]);
        let (offset, _, text) = format_error(&bytes);
        assert_eq!(offset, valid.len() as u64, "{text}");
        assert!(text.contains("mem.pcap"), "{text}");
    }
}

#[test]
fn undeclared_interfaces_and_bad_resolutions_are_errors() {
    let bytes = Ng::new()
        .section(false)
        .interface(1, None, None)
        .enhanced(3, 1, &frame(0, 60))
        .bytes();
    let (_, problem, _) = format_error(&bytes);
    assert_eq!(
        problem,
        FormatError::UndeclaredInterface {
            interface: 3,
            declared: 1
        }
    );
    // A simple packet block before any interface.
    let bytes = Ng::new().section(false).simple(&frame(0, 60)).bytes();
    let (_, problem, _) = format_error(&bytes);
    assert_eq!(
        problem,
        FormatError::UndeclaredInterface {
            interface: 0,
            declared: 0
        }
    );
    // 10^20 units per second does not fit 64 bits.
    let bytes = Ng::new()
        .section(false)
        .interface(1, Some(20), None)
        .bytes();
    let (_, problem, _) = format_error(&bytes);
    assert_eq!(
        problem,
        FormatError::BadTimestampResolution {
            interface: 0,
            value: 20
        }
    );
    // A new section forgets the interfaces of the previous one.
    let bytes = Ng::new()
        .section(false)
        .interface(1, None, None)
        .section(true)
        .enhanced(0, 1, &frame(0, 60))
        .bytes();
    let (_, problem, _) = format_error(&bytes);
    assert_eq!(
        problem,
        FormatError::UndeclaredInterface {
            interface: 0,
            declared: 0
        }
    );
}

#[test]
fn a_record_cut_short_at_the_end_is_reported_not_fatal() {
    let frames = [frame(1, 100), frame(2, 200), frame(3, 300)];
    let pcap = classic(
        false,
        false,
        1,
        &[(1, 0, &frames[0]), (2, 0, &frames[1]), (3, 0, &frames[2])],
    );
    let last = pcap.len() - (16 + 300);
    let ng = Ng::new()
        .section(false)
        .interface(1, None, None)
        .enhanced(0, 1, &frames[0])
        .enhanced(0, 2, &frames[1])
        .enhanced(0, 3, &frames[2])
        .bytes();
    let ng_last = ng.len() - (32 + 300);
    for (bytes, last, need) in [(pcap, last, 316), (ng, ng_last, 332)] {
        // Cut inside the record's data, and inside its header.
        for cut in [bytes.len() - 1, bytes.len() - 150, last + 5] {
            let (records, tail) = read_all(&bytes[..cut]).unwrap();
            assert_eq!(records.len(), 2);
            assert_eq!(records[1].2, frames[1]);
            let tail = tail.expect("a truncated tail");
            assert_eq!(tail.offset, last as u64);
            assert_eq!(tail.have, (cut - last) as u64);
            if cut > last + 8 {
                assert_eq!(tail.need, need);
            }
            assert!(tail.to_string().contains("cut short"));
        }
        // Cut exactly between records: a clean end.
        let (records, tail) = read_all(&bytes[..last]).unwrap();
        assert_eq!((records.len(), tail), (2, None));
    }
}

#[test]
fn read_frames_reports_a_truncated_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.pcap");
    let mut bytes = classic(
        false,
        false,
        1,
        &[(1, 0, &frame(0, 80)), (2, 0, &frame(1, 80))],
    );
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&path, bytes).unwrap();
    let (frames, report) = read_frames_with_report(&path).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(report.records, 1);
    assert_eq!(
        report.truncated_tail.map(|t| (t.have, t.need)),
        Some((86, 96))
    );
}

#[test]
fn non_ethernet_records_are_read_with_their_link_type() {
    let bytes = classic(false, false, 101, &[(1, 0, &frame(0, 40))]);
    let (records, _) = read_all(&bytes).unwrap();
    assert_eq!(records[0].1, 101);
}

// ---------------------------------------------------------------------------------------
// Random input never panics and always ends.

/// Reads to the end or the first error; the reader must consume at least 12 bytes per
/// record, so it cannot yield more than this.
fn read_bounded(bytes: &[u8]) {
    let Ok(mut reader) = CaptureReader::new("fuzz", Cursor::new(bytes)) else {
        return;
    };
    let mut records = 0;
    while let Ok(Some(rec)) = reader.next_record() {
        assert!(rec.data.len() <= MAX_FRAME_LEN);
        records += 1;
        assert!(records <= bytes.len() / 12 + 1, "too many records");
    }
    assert!(reader.report().bytes <= bytes.len() as u64);
    // After the end or an error, it stays ended.
    assert!(matches!(reader.next_record(), Ok(None)));
}

fn valid_samples() -> Vec<Vec<u8>> {
    let ng = Ng::new()
        .section(false)
        .interface(1, None, None)
        .interface(113, Some(9), Some(-5))
        .enhanced(0, 1, &frame(0, 60))
        .simple(&frame(1, 33))
        .enhanced(1, 2, &frame(2, 70))
        .section(true)
        .interface(1, Some(0x83), None)
        .obsolete(0, 7, &frame(3, 41))
        .enhanced(0, 9, &frame(4, 42))
        .bytes();
    let pcap = classic(
        true,
        true,
        1,
        &[(1, 5, &frame(0, 60)), (2, 6, &frame(1, 90))],
    );
    vec![ng, pcap]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        read_bounded(&bytes);
    }

    #[test]
    fn random_bytes_after_a_magic_never_panic(
        magic in 0usize..3,
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut input = [
            vec![0x0a, 0x0d, 0x0d, 0x0a],
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
            vec![0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
        ][magic].clone();
        input.extend_from_slice(&bytes);
        read_bounded(&input);
    }

    #[test]
    fn corrupted_and_truncated_captures_never_panic(
        sample in 0usize..2,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = valid_samples()[sample].clone();
        for (pos, value) in edits {
            let len = bytes.len();
            bytes[pos % len] = value;
        }
        let cut = cut % (bytes.len() + 1);
        bytes.truncate(cut);
        read_bounded(&bytes);
    }
}

#[test]
fn the_valid_samples_read_completely() {
    for bytes in valid_samples() {
        let (records, tail) = read_all(&bytes).unwrap();
        assert_eq!(tail, None);
        assert!(records.len() >= 2);
    }
}
