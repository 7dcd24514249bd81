//! The pcap replay port (pacing, loops, drops, errors) and the pcap writer port.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dataplane::pcap::{
    CapturedFrame, ClockFn, LINKTYPE_ETHERNET, PCAP_NS_MAGIC, Pace, PcapPort, PcapWriterPort,
    ReplayConfig, WRITER_SNAPLEN, read_frames, write_frames,
};
use dataplane::{Batch, BufPool, DropReason, Port, PortError, RxOutcome, RxQueue};
use proptest::prelude::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/pcaps");

fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

/// A classic pcap (microseconds, little-endian) of `link_type` with `records`
/// (timestamp in µs, frame).
fn classic_us(link_type: u32, records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, link_type] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (ts, data) in records {
        let len = data.len() as u32;
        for v in [(ts / 1_000_000) as u32, (ts % 1_000_000) as u32, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    out
}

/// A little-endian pcapng block.
fn ng_block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
    let padded = body.len().next_multiple_of(4);
    let len = (12 + padded) as u32;
    out.extend_from_slice(&block_type.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + padded - body.len(), 0);
    out.extend_from_slice(&len.to_le_bytes());
}

/// A pcapng file with an Ethernet interface (µs) and a raw-IP one (ns, link type 101),
/// and `records` (interface, timestamp in that interface's units, frame).
fn two_interface_pcapng(records: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&[0xff; 8]);
    ng_block(&mut out, 0x0A0D_0D0A, &shb);
    ng_block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 0, 0]);
    ng_block(
        &mut out,
        1,
        &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
    );
    for (if_id, ts, data) in records {
        let mut body = Vec::new();
        for v in [
            *if_id,
            (ts >> 32) as u32,
            *ts as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(data);
        ng_block(&mut out, 6, &body);
    }
    out
}

/// A fake clock, moved by hand.
#[derive(Clone, Default)]
struct FakeClock(Arc<AtomicU64>);

impl FakeClock {
    fn clock(&self) -> ClockFn {
        let now = self.0.clone();
        Arc::new(move || now.load(Ordering::Relaxed))
    }

    fn set(&self, ns: u64) {
        self.0.store(ns, Ordering::Relaxed);
    }
}

/// Pulls everything from `rxq` (which must not pace) and returns (timestamp, frame).
fn drain(rxq: &mut dyn RxQueue) -> Vec<(u64, Vec<u8>)> {
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(32).unwrap();
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        match rxq.rx_burst(&mut batch, &mut bufs).unwrap() {
            RxOutcome::Received(n) => {
                assert_eq!(n, batch.len());
                out.extend(batch.iter().map(|p| (p.timestamp_ns(), p.data().to_vec())));
                batch.free_into(&mut bufs);
            }
            RxOutcome::Idle => panic!("an unpaced replay is never idle"),
            RxOutcome::Ended => return out,
        }
    }
    panic!("the replay did not end");
}

fn replay(path: &Path, config: ReplayConfig) -> (PcapPort, Vec<(u64, Vec<u8>)>) {
    let mut port = PcapPort::open("replay", path, config).unwrap();
    let mut rxq = port.take_rx_queue(0).unwrap();
    let got = drain(rxq.as_mut());
    // Ended stays ended.
    let pool = BufPool::default();
    let mut batch = Batch::with_capacity(4).unwrap();
    assert_eq!(
        rxq.rx_burst(&mut batch, &mut pool.cache()).unwrap(),
        RxOutcome::Ended
    );
    (port, got)
}

// ---------------------------------------------------------------------------------------
// Replay.

#[test]
fn replaying_a_corpus_capture_delivers_every_packet_with_its_timestamp() {
    let dir = Path::new(CORPUS);
    assert!(
        dir.is_dir(),
        "the pcap corpus is missing: looked for it at {}",
        dir.display()
    );
    let path = dir.join("capture-Thu-11-24-16-10-28-11_cerber.pcap");
    let expect = read_frames(&path).unwrap();
    let (port, got) = replay(&path, ReplayConfig::default());
    assert_eq!(got.len(), 15_236);
    assert!(
        got.iter()
            .zip(&expect)
            .all(|(g, e)| g.0 == e.timestamp_ns && g.1 == e.data)
    );
    let q = &port.stats().queues[0];
    assert_eq!(q.rx_packets, 15_236);
    assert_eq!(
        q.rx_bytes,
        expect.iter().map(|f| f.data.len() as u64).sum::<u64>()
    );
    assert!(q.dropped.is_empty());
    assert_eq!(port.report().loops_completed, 1);
}

#[test]
fn loops_repeat_the_capture_with_increasing_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.pcap");
    // Span 4 ms over 3 packets: mean gap 2 ms, period 6 ms.
    let records = vec![
        (10_000, frame(1, 60)),
        (12_000, frame(2, 70)),
        (14_000, frame(3, 80)),
    ];
    std::fs::write(&path, classic_us(1, &records)).unwrap();
    let mut by_budget = Vec::new();
    for budget in [usize::MAX, 0] {
        let config = ReplayConfig {
            loops: 4,
            cache_budget: budget,
            ..ReplayConfig::default()
        };
        let (port, got) = replay(&path, config);
        assert_eq!(got.len(), 12);
        let ts: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
        for (i, (ts, data)) in got.iter().enumerate() {
            let (loop_, rec) = (i / 3, i % 3);
            assert_eq!(*ts, records[rec].0 * 1000 + loop_ as u64 * 6_000_000);
            assert_eq!(data, &records[rec].1);
        }
        let report = port.report();
        assert_eq!((report.loops_completed, report.records_per_loop), (4, 3));
        assert_eq!(report.cached, budget > 0);
        assert_eq!(port.stats().queues[0].rx_packets, 12);
        by_budget.push(got);
    }
    assert_eq!(by_budget[0], by_budget[1]);
}

#[test]
fn non_ethernet_records_are_dropped_and_counted_every_loop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.pcapng");
    let records = vec![
        (0, 1_000_000, frame(1, 60)),     // Ethernet, µs
        (1, 1_000_000_500, frame(2, 40)), // raw IP, ns
        (0, 1_000_002, frame(3, 64)),     // Ethernet
        (1, 1_000_002_500, frame(4, 40)), // raw IP
    ];
    std::fs::write(&path, two_interface_pcapng(&records)).unwrap();
    let (port, got) = replay(&path, ReplayConfig::default().with_loops(3));
    assert_eq!(got.len(), 6);
    assert_eq!(got[0], (1_000_000_000, frame(1, 60)));
    assert_eq!(got[1], (1_000_002_000, frame(3, 64)));
    let q = &port.stats().queues[0];
    assert_eq!(
        q.dropped.get(DropReason::UnsupportedLinkType.name()),
        Some(&6)
    );
    // Records read = delivered + dropped.
    assert_eq!(q.rx_packets + 6, 3 * 4);
    assert_eq!(port.report().records_per_loop, 4);
}

#[test]
fn a_capture_with_no_ethernet_frame_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw-ip.pcap");
    std::fs::write(
        &path,
        classic_us(101, &[(1, frame(0, 40)), (2, frame(1, 40))]),
    )
    .unwrap();
    let (port, got) = replay(&path, ReplayConfig::default().with_loops(u64::MAX));
    assert!(got.is_empty());
    let q = &port.stats().queues[0];
    assert_eq!(q.dropped.get("unsupported_link_type"), Some(&2));
    assert_eq!(port.report().loops_completed, 1);
}

#[test]
fn a_truncated_tail_is_counted_every_loop_and_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.pcap");
    let mut bytes = classic_us(
        1,
        &[(1, frame(0, 100)), (2, frame(1, 100)), (3, frame(2, 100))],
    );
    bytes.truncate(bytes.len() - 30);
    std::fs::write(&path, bytes).unwrap();
    for budget in [usize::MAX, 0] {
        let config = ReplayConfig {
            loops: 2,
            cache_budget: budget,
            ..ReplayConfig::default()
        };
        let (port, got) = replay(&path, config);
        assert_eq!(got.len(), 4);
        let q = &port.stats().queues[0];
        assert_eq!(q.dropped.get(DropReason::TruncatedRecord.name()), Some(&2));
        let tail = port.report().truncated_tail.expect("reported");
        assert_eq!((tail.offset, tail.have, tail.need), (24 + 2 * 116, 86, 116));
    }
}

#[test]
fn pacing_at_packets_per_second_uses_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ten.pcap");
    let records: Vec<_> = (0..10).map(|i| (i, frame(i as u8, 60))).collect();
    std::fs::write(&path, classic_us(1, &records)).unwrap();
    let clock = FakeClock::default();
    clock.set(1_000);
    let config = ReplayConfig::default().with_pace(Pace::PacketsPerSec(1000.0));
    let mut port = PcapPort::open_with_clock("paced", &path, config, clock.clock()).unwrap();
    let mut rxq = port.take_rx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(32).unwrap();
    let mut burst = |rxq: &mut Box<dyn RxQueue>| {
        let out = rxq.rx_burst(&mut batch, &mut bufs).unwrap();
        batch.free_into(&mut bufs);
        out
    };
    // The first packet goes at once; the next is due 1 ms later.
    assert_eq!(burst(&mut rxq), RxOutcome::Received(1));
    assert_eq!(burst(&mut rxq), RxOutcome::Idle);
    clock.set(1_000 + 999_999);
    assert_eq!(burst(&mut rxq), RxOutcome::Idle);
    clock.set(1_000 + 1_000_000);
    assert_eq!(burst(&mut rxq), RxOutcome::Received(1));
    // 3.5 ms later: the packets due at 2 and 3 ms (and the 4 ms one waits).
    clock.set(1_000 + 4_500_000);
    assert_eq!(burst(&mut rxq), RxOutcome::Received(3));
    clock.set(1_000 + 100_000_000);
    assert_eq!(burst(&mut rxq), RxOutcome::Received(5));
    assert_eq!(burst(&mut rxq), RxOutcome::Ended);
    assert_eq!(port.stats().queues[0].rx_packets, 10);
}

#[test]
fn pacing_at_a_bit_rate_counts_frame_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sizes.pcap");
    let records = vec![(0, frame(0, 1000)), (0, frame(1, 500)), (0, frame(2, 100))];
    std::fs::write(&path, classic_us(1, &records)).unwrap();
    let clock = FakeClock::default();
    // 8 Mbit/s: one byte per µs.
    let config = ReplayConfig::default().with_pace(Pace::MbitPerSec(8.0));
    let mut port = PcapPort::open_with_clock("paced", &path, config, clock.clock()).unwrap();
    let mut rxq = port.take_rx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(32).unwrap();
    let mut at = |ns: u64, rxq: &mut Box<dyn RxQueue>| {
        clock.set(ns);
        let out = rxq.rx_burst(&mut batch, &mut bufs).unwrap();
        batch.free_into(&mut bufs);
        out
    };
    assert_eq!(at(0, &mut rxq), RxOutcome::Received(1));
    assert_eq!(at(999_999, &mut rxq), RxOutcome::Idle);
    assert_eq!(at(1_000_000, &mut rxq), RxOutcome::Received(1));
    assert_eq!(at(1_499_999, &mut rxq), RxOutcome::Idle);
    assert_eq!(at(1_500_000, &mut rxq), RxOutcome::Received(1));
    assert_eq!(at(1_500_000, &mut rxq), RxOutcome::Ended);
}

#[test]
fn pacing_at_capture_timing_follows_timestamps_across_loops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timed.pcap");
    // Captured at 0, 10 and 30 ms: span 30 ms, mean gap 15 ms, period 45 ms.
    let records = vec![
        (0, frame(0, 60)),
        (10_000, frame(1, 60)),
        (30_000, frame(2, 60)),
    ];
    std::fs::write(&path, classic_us(1, &records)).unwrap();
    let clock = FakeClock::default();
    let config = ReplayConfig::default()
        .with_pace(Pace::Capture { speed: 2.0 })
        .with_loops(2);
    let mut port = PcapPort::open_with_clock("timed", &path, config, clock.clock()).unwrap();
    let mut rxq = port.take_rx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(32).unwrap();
    // Walk the clock in 0.5 ms steps and note when each packet goes.
    let mut sent_at = Vec::new();
    let mut now = 0;
    loop {
        clock.set(now);
        match rxq.rx_burst(&mut batch, &mut bufs).unwrap() {
            RxOutcome::Received(n) => sent_at.extend(std::iter::repeat_n(now, n)),
            RxOutcome::Idle => {}
            RxOutcome::Ended => break,
        }
        batch.free_into(&mut bufs);
        now += 500_000;
        assert!(now < 1_000_000_000, "the replay did not end");
    }
    // At twice the speed: 0, 5, 15 ms, then the second loop 22.5 ms later.
    let ms = |v: f64| (v * 1e6) as u64;
    let expect = [0.0, 5.0, 15.0, 22.5, 27.5, 37.5].map(ms);
    assert_eq!(sent_at, expect);
}

#[test]
fn configuration_and_open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.pcap");
    std::fs::write(&good, classic_us(1, &[(1, frame(0, 60))])).unwrap();
    let err = PcapPort::open("p", &good, ReplayConfig::default().with_loops(0)).unwrap_err();
    assert!(matches!(err, PortError::Config { .. }), "{err}");
    let err = PcapPort::open(
        "p",
        &good,
        ReplayConfig::default().with_pace(Pace::PacketsPerSec(-1.0)),
    )
    .unwrap_err();
    assert!(matches!(err, PortError::Config { .. }), "{err}");
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, b"GIF89a, certainly not a capture").unwrap();
    let err = PcapPort::open("p", &bad, ReplayConfig::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PortError::Capture { .. }), "{text}");
    assert!(
        text.contains("bad.pcap") && text.contains("not a pcap or pcapng file"),
        "{text}"
    );
    let err = PcapPort::open(
        "p",
        dir.path().join("missing.pcap"),
        ReplayConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PortError::Io { .. }), "{err}");
    // One receive queue, no transmit queue.
    let mut port = PcapPort::open("p", &good, ReplayConfig::default()).unwrap();
    assert_eq!((port.rx_queue_count(), port.tx_queue_count()), (1, 0));
    assert!(matches!(
        port.take_tx_queue(0),
        Err(PortError::NoSuchQueue { .. })
    ));
    assert!(port.take_rx_queue(0).is_ok());
    assert!(matches!(
        port.take_rx_queue(0),
        Err(PortError::QueueTaken { .. })
    ));
}

#[test]
fn an_error_mid_file_comes_after_the_packets_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.pcap");
    let mut bytes = classic_us(1, &[(1, frame(0, 60)), (2, frame(1, 60))]);
    bytes.extend_from_slice(&[0xff; 20]);
    std::fs::write(&path, bytes).unwrap();
    let mut port = PcapPort::open("p", &path, ReplayConfig::default()).unwrap();
    let mut rxq = port.take_rx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(32).unwrap();
    assert_eq!(
        rxq.rx_burst(&mut batch, &mut bufs).unwrap(),
        RxOutcome::Received(2)
    );
    let err = rxq.rx_burst(&mut batch, &mut bufs).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PortError::Capture { .. }), "{text}");
    assert!(
        text.contains("corrupt.pcap") && text.contains("at byte 176"),
        "{text}"
    );
    assert_eq!(
        rxq.rx_burst(&mut batch, &mut bufs).unwrap(),
        RxOutcome::Ended
    );
}

#[test]
fn replay_configuration_reads_from_toml() {
    let config: ReplayConfig = toml::from_str("pace = \"capture*2\"\nloops = 3").unwrap();
    assert_eq!(config.pace, Pace::Capture { speed: 2.0 });
    assert_eq!(config.loops, 3);
    assert_eq!(config.cache_budget, ReplayConfig::default().cache_budget);
    let config: ReplayConfig = toml::from_str("pace = \"250mbps\"").unwrap();
    assert_eq!(config.pace, Pace::MbitPerSec(250.0));
    assert!(toml::from_str::<ReplayConfig>("pace = \"0pps\"").is_err());
    assert!(toml::from_str::<ReplayConfig>("speed = 3").is_err());
    let text =
        toml::to_string(&ReplayConfig::default().with_pace(Pace::PacketsPerSec(10.0))).unwrap();
    assert!(text.contains("pace = \"10pps\""), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Corrupted or truncated files replayed in loops end (or fail) within a bounded
    /// number of calls, and when they end every record is accounted for.
    #[test]
    fn corrupted_files_replay_to_an_end_and_account_for_every_record(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        cached in any::<bool>(),
    ) {
        let records: Vec<_> = (0..6u32)
            .map(|i| (i % 2, 1_000_000 + u64::from(i) * 1_000, frame(i as u8, 60 + i as usize)))
            .collect();
        let mut bytes = two_interface_pcapng(&records);
        for (pos, value) in edits {
            let len = bytes.len();
            bytes[pos % len] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzzed.pcapng");
        std::fs::write(&path, &bytes).unwrap();
        let config = ReplayConfig {
            loops: 3,
            cache_budget: if cached { usize::MAX } else { 0 },
            ..ReplayConfig::default()
        };
        let Ok(mut port) = PcapPort::open("fuzz", &path, config) else {
            return Ok(());
        };
        let mut rxq = port.take_rx_queue(0).unwrap();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(8).unwrap();
        let mut ended = false;
        for _ in 0..1000 {
            match rxq.rx_burst(&mut batch, &mut bufs) {
                Ok(RxOutcome::Received(_)) => batch.free_into(&mut bufs),
                Ok(RxOutcome::Idle) => panic!("an unpaced replay is never idle"),
                Ok(RxOutcome::Ended) => {
                    ended = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let report = port.report();
        let q = &port.stats().queues[0];
        if ended {
            let unsupported = q.dropped.get("unsupported_link_type").copied().unwrap_or(0);
            let truncated = q.dropped.get("truncated_record").copied().unwrap_or(0);
            prop_assert_eq!(q.rx_packets + unsupported, report.loops_completed * report.records_per_loop);
            let expect_truncated = if report.truncated_tail.is_some() { report.loops_completed } else { 0 };
            prop_assert_eq!(truncated, expect_truncated);
        } else {
            prop_assert!(report.loops_completed < 3, "an error, not an endless replay");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writer.

#[test]
fn written_frames_read_back_identical_with_nanosecond_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.pcap");
    let frames: Vec<(u64, Vec<u8>)> = (0..300u64)
        .map(|i| {
            (
                1_700_000_000_123_456_789 + i * 1_001,
                frame(i as u8, 60 + (i as usize * 7) % 1400),
            )
        })
        .collect();
    let mut port = PcapWriterPort::create("out", &path).unwrap();
    assert_eq!((port.rx_queue_count(), port.tx_queue_count()), (0, 1));
    let mut txq = port.take_tx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    for chunk in frames.chunks(32) {
        let mut batch = Batch::with_capacity(32).unwrap();
        for (ts, data) in chunk {
            let mut pkt = bufs.alloc_from(data).unwrap();
            pkt.set_timestamp_ns(*ts);
            batch.push(pkt).unwrap();
        }
        assert_eq!(txq.tx_burst(&mut batch, &mut bufs).unwrap(), chunk.len());
        assert!(batch.is_empty());
    }
    txq.flush().unwrap();
    let q = &port.stats().queues[0];
    assert_eq!(q.tx_packets, 300);
    assert_eq!(
        q.tx_bytes,
        frames.iter().map(|f| f.1.len() as u64).sum::<u64>()
    );
    assert!(
        bufs.cached() > 0,
        "the written buffers went back to the cache"
    );

    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        u32::from_le_bytes(bytes[0..4].try_into().unwrap()),
        PCAP_NS_MAGIC
    );
    assert_eq!(
        u32::from_le_bytes(bytes[16..20].try_into().unwrap()),
        WRITER_SNAPLEN
    );
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
    let back: Vec<(u64, Vec<u8>)> = read_frames(&path)
        .unwrap()
        .into_iter()
        .map(|f: CapturedFrame| {
            assert_eq!(f.link_type, LINKTYPE_ETHERNET);
            (f.timestamp_ns, f.data)
        })
        .collect();
    assert!(
        back == frames,
        "frames or timestamps differ after the round trip"
    );

    if tshark_available() {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let seen: Vec<(u64, usize)> = text
            .lines()
            .map(|l| {
                let (ts, len) = l.split_once('\t').unwrap();
                (epoch_ns(ts), len.parse().unwrap())
            })
            .collect();
        let expect: Vec<(u64, usize)> = frames.iter().map(|f| (f.0, f.1.len())).collect();
        assert!(
            seen == expect,
            "tshark reads other timestamps: {:?}",
            &seen[..3.min(seen.len())]
        );
    }
}

#[test]
fn write_frames_and_dropping_the_queue_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.pcap");
    {
        let mut port = PcapWriterPort::create("out", &path).unwrap();
        let mut txq = port.take_tx_queue(0).unwrap();
        let pool = BufPool::default();
        let mut bufs = pool.cache();
        let mut batch = Batch::with_capacity(4).unwrap();
        let mut pkt = bufs.alloc_from(&frame(9, 99)).unwrap();
        pkt.set_timestamp_ns(42);
        batch.push(pkt).unwrap();
        txq.tx_burst(&mut batch, &mut bufs).unwrap();
    }
    let back = read_frames(&path).unwrap();
    assert_eq!(
        (back.len(), back[0].timestamp_ns, back[0].data.len()),
        (1, 42, 99)
    );

    let path = dir.path().join("helper.pcap");
    let a = frame(1, 70);
    write_frames(&path, [(5, &a[..]), (6, &a[..10])]).unwrap();
    let back = read_frames(&path).unwrap();
    assert_eq!(
        back.iter().map(|f| f.timestamp_ns).collect::<Vec<_>>(),
        vec![5, 6]
    );
    assert_eq!(back[1].data, &a[..10]);
}

#[test]
fn write_errors_surface_as_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = PcapWriterPort::create("out", dir.path().join("no/such/dir/out.pcap")).unwrap_err();
    assert!(matches!(err, PortError::Io { .. }), "{err}");
    assert!(err.to_string().contains("out.pcap"), "{err}");
    // A device that is always full: writes are buffered, flush reports the failure.
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped the full-device case: no /dev/full here");
        return;
    }
    let mut port = PcapWriterPort::create("out", full).unwrap();
    let mut txq = port.take_tx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(4).unwrap();
    batch.push(bufs.alloc_from(&frame(0, 60)).unwrap()).unwrap();
    txq.tx_burst(&mut batch, &mut bufs).unwrap();
    let err = txq.flush().unwrap_err();
    assert!(matches!(err, PortError::Io { .. }), "{err}");
    assert!(err.to_string().contains("flushing"), "{err}");
}

#[test]
fn timestamps_beyond_pcap_range_are_refused_and_stay_in_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut port = PcapWriterPort::create("out", dir.path().join("far.pcap")).unwrap();
    let mut txq = port.take_tx_queue(0).unwrap();
    let pool = BufPool::default();
    let mut bufs = pool.cache();
    let mut batch = Batch::with_capacity(4).unwrap();
    for ts in [1, u64::MAX, 2] {
        let mut pkt = bufs.alloc_from(&frame(0, 60)).unwrap();
        pkt.set_timestamp_ns(ts);
        batch.push(pkt).unwrap();
    }
    let err = txq.tx_burst(&mut batch, &mut bufs).unwrap_err();
    assert!(matches!(err, PortError::Io { .. }), "{err}");
    assert_eq!(batch.len(), 2, "the refused packet and those after it stay");
    assert_eq!(port.stats().queues[0].tx_packets, 1);
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
        eprintln!(
            "skipped the tshark check: tshark is not installed (set DAS_REQUIRE_TSHARK=1 to fail instead)"
        );
    }
    found
}

/// "1700000000.123456789" as nanoseconds.
fn epoch_ns(text: &str) -> u64 {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap()
}
