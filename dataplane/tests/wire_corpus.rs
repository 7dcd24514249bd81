//! Parses every frame of every capture in the shared corpus with `wire::parse`.
//!
//! Frames are read with `pcap_parser` directly (pcap and pcapng alike). The test
//! skips, with a message, when the corpus is not there.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use dataplane::wire::{self, L3, L4, ParsedPacket, TcpSegment, UdpDatagram};
use pcap_parser::{Block, Linktype, PcapBlockOwned, PcapError};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/pcaps")
}

/// Every Ethernet frame of a capture, in order.
fn frames(path: &Path) -> Vec<Vec<u8>> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_parser::create_reader(1 << 20, file)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let mut frames = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        assert_eq!(h.network, Linktype::ETHERNET, "{}", path.display());
                    }
                    PcapBlockOwned::Legacy(b) => frames.push(b.data.to_vec()),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        assert_eq!(idb.linktype, Linktype::ETHERNET, "{}", path.display());
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let len = (epb.caplen as usize).min(epb.data.len());
                        frames.push(epb.data[..len].to_vec());
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => frames.push(spb.data.to_vec()),
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    frames
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    frames: usize,
    ipv4: usize,
    ipv6: usize,
    other_l3: usize,
    tcp: usize,
    udp: usize,
    icmp: usize,
    icmpv6: usize,
    other_l4: usize,
    fragments: usize,
    truncated: usize,
    invalid_l4: usize,
    errors: usize,
    bad_checksums: usize,
}

fn check_offsets(p: &ParsedPacket, frame: &[u8]) {
    assert!(p.l3_offset <= p.l4_offset && p.l4_offset <= p.l3_end && p.l3_end <= frame.len());
    assert!(p.payload.start <= p.payload.end && p.payload.end <= frame.len());
}

/// Whether the transport checksum of a whole (not truncated, not fragmented) TCP or UDP
/// packet verifies.
fn checksum_ok(p: &ParsedPacket, frame: &[u8]) -> bool {
    if p.truncated || p.fragment.is_some() {
        return true;
    }
    let segment = &frame[p.l4_offset..p.l3_end];
    match (&p.l3, &p.l4) {
        (L3::Ipv4(ip), L4::Tcp(_)) => {
            TcpSegment::new_checked(segment).is_ok_and(|s| s.verify_checksum_v4(ip.src, ip.dst))
        }
        (L3::Ipv6(ip), L4::Tcp(_)) => {
            TcpSegment::new_checked(segment).is_ok_and(|s| s.verify_checksum_v6(ip.src, ip.dst))
        }
        (L3::Ipv4(ip), L4::Udp(_)) => {
            UdpDatagram::new_checked(segment).is_ok_and(|s| s.verify_checksum_v4(ip.src, ip.dst))
        }
        (L3::Ipv6(ip), L4::Udp(_)) => {
            UdpDatagram::new_checked(segment).is_ok_and(|s| s.verify_checksum_v6(ip.src, ip.dst))
        }
        _ => true,
    }
}

fn count(path: &Path) -> Counts {
    let mut c = Counts::default();
    for (i, frame) in frames(path).iter().enumerate() {
        c.frames += 1;
        let p = match wire::parse(frame) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{} frame {}: {e}", path.display(), i + 1);
                c.errors += 1;
                continue;
            }
        };
        check_offsets(&p, frame);
        match p.l3 {
            L3::Ipv4(_) => c.ipv4 += 1,
            L3::Ipv6(_) => c.ipv6 += 1,
            L3::Other(_) => c.other_l3 += 1,
        }
        match &p.l4 {
            L4::Tcp(_) => c.tcp += 1,
            L4::Udp(_) => c.udp += 1,
            L4::Icmp(_) => c.icmp += 1,
            L4::Icmpv6(_) => c.icmpv6 += 1,
            L4::Other(_) | L4::Fragment(_) => c.other_l4 += 1,
            L4::Truncated { .. } => {}
            L4::Invalid { error, .. } => {
                assert_eq!(
                    error.to_string(),
                    "malformed UDP header: length field exceeds the IP payload",
                    "{} frame {}",
                    path.display(),
                    i + 1
                );
                c.invalid_l4 += 1;
            }
            L4::NotIp => {}
        }
        c.fragments += usize::from(p.fragment.is_some());
        c.truncated += usize::from(p.truncated);
        c.bad_checksums += usize::from(!checksum_ok(&p, frame));
    }
    c
}

#[test]
fn wire_parses_every_corpus_frame() {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: no corpus at {}", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut per_file = BTreeMap::new();
    let mut total = Counts::default();
    for path in &paths {
        let c = count(path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("{name:48} {c:?}");
        total.frames += c.frames;
        total.ipv4 += c.ipv4;
        total.ipv6 += c.ipv6;
        total.other_l3 += c.other_l3;
        total.tcp += c.tcp;
        total.udp += c.udp;
        total.icmp += c.icmp;
        total.icmpv6 += c.icmpv6;
        total.other_l4 += c.other_l4;
        total.fragments += c.fragments;
        total.truncated += c.truncated;
        total.invalid_l4 += c.invalid_l4;
        total.errors += c.errors;
        total.bad_checksums += c.bad_checksums;
        per_file.insert(name, c);
    }
    eprintln!("{:48} {total:?}", "total");
    assert_eq!(paths.len(), 12, "the corpus has 12 captures");
    assert_eq!(
        total.frames, 67_698,
        "the corpus README counts 67,698 packets"
    );
    assert_eq!(
        total.errors, 0,
        "every frame of the corpus has good L2/L3 headers"
    );
    assert_eq!(total.ipv4 + total.ipv6 + total.other_l3, total.frames);
    assert!(total.tcp > 0 && total.udp > 0 && total.icmp > 0 && total.icmpv6 > 0);

    // Exact numbers, cross-checked with tshark (outer eth.type / ip.proto / ipv6.nxt of
    // each frame, and `-o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE` for the
    // checksums).
    let expect = |name: &str, want: Counts| assert_eq!(per_file[name], want, "{name}");
    expect(
        "http_espn.pcapng",
        Counts {
            frames: 956,
            ipv4: 956,
            tcp: 928,
            udp: 28,
            bad_checksums: 77,
            ..Counts::default()
        },
    );
    expect(
        "TFTP.pcap",
        Counts {
            frames: 7272,
            ipv4: 7270,
            other_l3: 2,
            udp: 7256,
            icmp: 14,
            ..Counts::default()
        },
    );
    // miscellaneous: 992 802.3/LLC frames and 2 EAPOL; 62 IGMP; 70 MLD reports behind
    // a hop-by-hop header.
    expect(
        "miscellaneous.pcap",
        Counts {
            frames: 6641,
            ipv4: 5402,
            ipv6: 245,
            other_l3: 994,
            tcp: 4878,
            udp: 610,
            icmp: 15,
            icmpv6: 82,
            other_l4: 62,
            ..Counts::default()
        },
    );
    // DNS.pcap holds 1,000 frames whose UDP length (65535) exceeds the IP payload,
    // which Wireshark also reports as malformed ("Bad length value > IP payload
    // length"), 4 fragmented datagrams (a first and a later fragment each) and 6
    // frames whose IP length runs past the end of the frame (Wireshark: "total length
    // exceeds packet length"), which parse as truncated.
    expect(
        "DNS.pcap",
        Counts {
            frames: 2999,
            ipv4: 2945,
            ipv6: 50,
            other_l3: 4,
            tcp: 416,
            udp: 1575,
            other_l4: 4,
            fragments: 8,
            truncated: 6,
            invalid_l4: 1000,
            bad_checksums: 198,
            ..Counts::default()
        },
    );
    assert_eq!(
        total.invalid_l4, 1000,
        "only DNS.pcap has malformed transport headers"
    );
}
