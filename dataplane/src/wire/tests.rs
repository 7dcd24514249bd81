//! Tests of the one-shot parse: real frames, hand-built shapes, and properties over
//! random, truncated and corrupted frames.

use proptest::prelude::*;

use super::builder::{Ext, Frame, Ip, Transport};
use super::*;

// ---------------------------------------------------------------------------------
// Helpers

/// Offsets of a successful parse are ordered and inside the frame.
fn check_invariants(p: &ParsedPacket, frame: &[u8]) {
    let len = frame.len();
    assert!(p.l3_offset <= p.l4_offset, "{p:?}");
    assert!(p.l4_offset <= p.l3_end, "{p:?}");
    assert!(p.l3_end <= len, "{p:?}");
    assert!(p.payload.start <= p.payload.end, "{p:?}");
    assert!(p.payload.end <= len, "{p:?}");
    assert_eq!(p.payload_bytes(frame).len(), p.payload.len());
    match &p.l3 {
        L3::Other(ethertype) => {
            assert_eq!(*ethertype, p.ethertype);
            assert_eq!(p.l4, L4::NotIp);
            assert_eq!(p.payload, p.l3_offset..len);
            assert_eq!(p.l3_end, len);
            assert!(!p.truncated);
            assert_eq!(p.ip_protocol(), None);
        }
        L3::Ipv4(_) | L3::Ipv6(_) => {
            assert!(p.payload.start >= p.l4_offset, "{p:?}");
            assert!(p.payload.end <= p.l3_end, "{p:?}");
            assert!(p.ip_protocol().is_some());
            assert_ne!(p.l4, L4::NotIp);
        }
    }
    match &p.l4 {
        L4::Tcp(t) => {
            assert!(t.header_len >= 20);
            assert_eq!(t.options.start, p.l4_offset + 20);
            assert!(t.options.start <= t.options.end);
            assert_eq!(t.options.end, p.payload.start);
            assert!(t.options.len() < t.header_len - 20 + 1);
            assert!(t.options.len() == t.header_len - 20 || p.truncated);
            assert_eq!(p.ports(), Some((t.src_port, t.dst_port)));
        }
        L4::Udp(u) => {
            assert!(u.length >= 8);
            assert_eq!(p.payload.start, p.l4_offset + 8);
            assert_eq!(p.ports(), Some((u.src_port, u.dst_port)));
        }
        L4::Icmp(_) | L4::Icmpv6(_) => assert_eq!(p.payload.start, p.l4_offset + 8),
        L4::Other(_) | L4::Fragment(_) => {
            assert_eq!(p.payload, p.l4_offset..p.l3_end);
            assert_eq!(p.ports(), None);
        }
        L4::Truncated { .. } => {
            assert!(p.truncated, "only a short capture truncates: {p:?}");
            assert!(p.payload.is_empty());
            assert_eq!(p.ports(), None);
        }
        L4::Invalid { .. } => {
            assert!(p.payload.is_empty());
            assert_eq!(p.ports(), None);
        }
        L4::NotIp => {}
    }
    if matches!(p.l4, L4::Fragment(_)) {
        assert!(p.fragment.is_some_and(|f| !f.is_first()));
    }
}

/// Runs every checked view (and all its accessors) over `b`; nothing may panic.
fn exercise_views(b: &[u8]) {
    if let Ok(v) = EthernetFrame::new_checked(b) {
        let _ = (v.dst_addr(), v.src_addr(), v.ethertype(), v.header_len());
        let _ = v.payload();
    }
    if let Ok(v) = VlanTag::new_checked(b) {
        let _ = (
            v.tci(),
            v.pcp(),
            v.dei(),
            v.vid(),
            v.ethertype(),
            v.payload(),
        );
    }
    if let Ok(v) = Ipv4Packet::new_checked(b) {
        let _ = (
            v.version(),
            v.header_len(),
            v.dscp(),
            v.ecn(),
            v.total_len(),
        );
        let _ = (v.ident(), v.reserved_flag(), v.dont_frag(), v.more_frags());
        let _ = (
            v.frag_offset(),
            v.fragment(),
            v.ttl(),
            v.protocol(),
            v.checksum(),
        );
        let _ = (v.src_addr(), v.dst_addr(), v.options(), v.is_truncated());
        let _ = (v.payload(), v.verify_checksum());
        assert!(v.payload().len() <= b.len());
    }
    if let Ok(v) = Ipv6Packet::new_checked(b) {
        let _ = (
            v.version(),
            v.traffic_class(),
            v.flow_label(),
            v.payload_len(),
        );
        let _ = (v.next_header(), v.hop_limit(), v.src_addr(), v.dst_addr());
        let _ = (v.header_len(), v.is_truncated(), v.payload());
        let walk = v.ext_headers();
        assert!(walk.offset <= v.payload().len());
    }
    if let Ok(v) = Ipv6FragmentHeader::new_checked(b) {
        let _ = (v.next_header(), v.frag_offset(), v.more_frags(), v.ident());
        let _ = (v.fragment(), v.header_len(), v.payload());
    }
    for first in [0, 43, 44, 51, 60, 135] {
        let walk = walk_ext_headers(IpProtocol(first), b, b.len());
        assert!(walk.offset <= b.len());
    }
    if let Ok(v) = TcpSegment::new_checked(b) {
        let _ = (v.src_port(), v.dst_port(), v.seq_number(), v.ack_number());
        let _ = (v.header_len(), v.flags(), v.reserved(), v.window_len());
        let _ = (v.checksum(), v.urgent_ptr(), v.options(), v.payload());
        let _ = v.verify_checksum_v4([1; 4], [2; 4]);
        let _ = v.verify_checksum_v6([1; 16], [2; 16]);
    }
    if let Ok(v) = UdpDatagram::new_checked(b) {
        let _ = (
            v.src_port(),
            v.dst_port(),
            v.len(),
            v.is_empty(),
            v.checksum(),
        );
        let _ = (v.header_len(), v.payload());
        let _ = v.verify_checksum_v4([1; 4], [2; 4]);
        let _ = v.verify_checksum_v6([1; 16], [2; 16]);
    }
    if let Ok(v) = IcmpPacket::new_checked(b) {
        let _ = (v.msg_type(), v.code(), v.checksum(), v.rest_of_header());
        let _ = (v.echo_ident(), v.echo_seq_no(), v.header_len(), v.payload());
        let _ = v.verify_checksum();
    }
    if let Ok(v) = Icmpv6Packet::new_checked(b) {
        let _ = (v.msg_type(), v.code(), v.checksum(), v.message_header());
        let _ = (v.echo_ident(), v.echo_seq_no(), v.header_len(), v.payload());
        let _ = v.verify_checksum([1; 16], [2; 16]);
    }
    let _ = checksum::checksum(b);
}

/// Parses `b` and every view at every offset up to 80; checks invariants on success.
fn parse_and_exercise(b: &[u8]) -> Result<ParsedPacket, WireError> {
    let r = parse(b);
    if let Ok(p) = &r {
        check_invariants(p, b);
    }
    for offset in 0..b.len().min(80) {
        exercise_views(&b[offset..]);
    }
    r
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn v4_frame(l4: Transport, payload: &[u8]) -> Frame {
    Frame {
        dst_mac: [0x02, 0, 0, 0, 0, 1],
        src_mac: [0x02, 0, 0, 0, 0, 2],
        vlans: vec![],
        ip: Ip::V4 {
            src: [10, 1, 2, 3],
            dst: [172, 16, 0, 9],
            ttl: 61,
            ident: 0x4242,
            dont_frag: true,
            frag: None,
            options: vec![],
        },
        l4,
        payload: payload.to_vec(),
        padding: 0,
    }
}

fn v6_frame(exts: Vec<Ext>, l4: Transport, payload: &[u8]) -> Frame {
    Frame {
        ip: Ip::V6 {
            src: [
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
            ],
            dst: [
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20,
            ],
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0xbeef,
            exts,
        },
        ..v4_frame(l4, payload)
    }
}

fn tcp(flags: TcpFlags, options: &[u8]) -> Transport {
    Transport::Tcp {
        src: 40000,
        dst: 443,
        seq: 1000,
        ack: 2000,
        flags: flags.bits(),
        window: 65535,
        options: options.to_vec(),
    }
}

const UDP_DNS: Transport = Transport::Udp { src: 5353, dst: 53 };

// ---------------------------------------------------------------------------------
// Real frames and hand-built shapes

/// A SYN from the RIG capture: MSS 1460, NOP, window scale 8, NOP, NOP, SACK permitted.
const REAL_SYN: &str = "10c37b532738 0800272aba35 0800
    4500 0034 0025 4000 8006 9fe5 c0a8012e 17d9810a
    c004 0050 ac18a820 00000000 8002 2000 dfc8 0000 020405b4 01030308 01010402";

#[test]
fn real_tcp_syn_with_options() {
    let frame = hex(REAL_SYN);
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.dst_mac, [0x10, 0xc3, 0x7b, 0x53, 0x27, 0x38]);
    assert_eq!(p.src_mac, [0x08, 0x00, 0x27, 0x2a, 0xba, 0x35]);
    assert_eq!((p.outer_vlan, p.inner_vlan), (None, None));
    assert_eq!(p.ethertype, EtherType::IPV4);
    assert_eq!(p.l3_offset, 14);
    let L3::Ipv4(ip) = p.l3 else { panic!() };
    assert_eq!(ip.src, [192, 168, 1, 46]);
    assert_eq!(ip.dst, [23, 217, 129, 10]);
    assert_eq!(
        (ip.protocol, ip.ttl, ip.total_len, ip.ident),
        (IpProtocol::TCP, 128, 52, 0x25)
    );
    assert!(ip.dont_frag && !ip.more_frags && ip.frag_offset == 0);
    assert_eq!(p.fragment, None);
    assert_eq!(p.l4_offset, 34);
    let L4::Tcp(t) = &p.l4 else { panic!() };
    assert_eq!((t.src_port, t.dst_port), (49156, 80));
    assert_eq!((t.seq, t.ack), (2_887_297_056, 0));
    assert_eq!(t.flags, TcpFlags::SYN);
    assert_eq!((t.window, t.header_len), (8192, 32));
    assert_eq!(
        frame[t.options.clone()],
        hex("020405b4 01030308 01010402")[..]
    );
    assert_eq!(p.payload, 66..66);
    assert_eq!(p.l3_end, 66);
    assert!(!p.truncated);
    assert_eq!(p.ports(), Some((49156, 80)));
    assert_eq!(
        p.ipv4_addrs(),
        Some(([192, 168, 1, 46], [23, 217, 129, 10]))
    );
    assert_eq!(p.ipv6_addrs(), None);
    assert_eq!(p.ip_protocol(), Some(IpProtocol::TCP));
    // The checksums of the real frame verify through the views.
    let ip4 = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert!(ip4.verify_checksum());
    let seg = TcpSegment::new_checked(ip4.payload()).unwrap();
    assert!(seg.verify_checksum_v4(ip.src, ip.dst));
}

/// An MLDv2 report from the miscellaneous capture: IPv6, hop-by-hop (router alert),
/// ICMPv6 type 143.
const REAL_MLD: &str = "333300000016 9cfc0184379a 86dd
    60000000 0024 00 01 fe80000000000000 10a19c9c3e18d1d7 ff020000000000000000000000000016
    3a00 0502 0000 0100  8f00 b1e2 0000 0001 04000000 ff0200000000000000000000000000fb";

#[test]
fn real_ipv6_hop_by_hop_icmpv6() {
    let frame = hex(REAL_MLD);
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    let L3::Ipv6(ip) = p.l3 else { panic!() };
    assert_eq!(ip.next_header, IpProtocol::HOP_BY_HOP);
    assert_eq!((ip.ext_headers, ip.hop_limit, ip.payload_len), (1, 1, 36));
    assert_eq!(ip.dst[15], 0x16);
    assert_eq!(p.l4_offset, 14 + 40 + 8);
    assert_eq!(
        p.l4,
        L4::Icmpv6(IcmpInfo {
            msg_type: 143,
            code: 0
        })
    );
    assert_eq!(p.ip_protocol(), Some(IpProtocol::ICMPV6));
    assert_eq!(p.ports(), None);
    assert_eq!(p.payload, 70..90);
    let msg = Icmpv6Packet::new_checked(&frame[p.l4_offset..p.l3_end]).unwrap();
    assert!(msg.verify_checksum(ip.src, ip.dst));
}

#[test]
fn dns_over_udp_with_ethernet_padding() {
    // A 17-byte query in a minimum-size (60-byte) frame: 1 byte of padding.
    let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01";
    let mut f = v4_frame(UDP_DNS, query);
    f.padding = 1;
    let frame = f.build();
    assert_eq!(frame.len(), 60);
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(
        p.l4,
        L4::Udp(UdpInfo {
            src_port: 5353,
            dst_port: 53,
            length: 25
        })
    );
    assert_eq!(p.payload_bytes(&frame), query, "padding is not payload");
    assert_eq!(p.l3_end, 59);
    let udp = UdpDatagram::new_checked(&frame[p.l4_offset..p.l3_end]).unwrap();
    assert!(udp.verify_checksum_v4([10, 1, 2, 3], [172, 16, 0, 9]));
}

#[test]
fn icmp_echo() {
    let frame = hex(
        "b0c09057d64e 10c37b532738 0800 45000030 00004000 4001b6b8 c0a80101 c0a801c3
         0800 80fa 7705 0000 0000000000000000000000000000000000000000",
    );
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(
        p.l4,
        L4::Icmp(IcmpInfo {
            msg_type: 8,
            code: 0
        })
    );
    assert_eq!(p.payload, 42..62);
    let icmp = IcmpPacket::new_checked(&frame[p.l4_offset..p.l3_end]).unwrap();
    assert_eq!((icmp.echo_ident(), icmp.echo_seq_no()), (0x7705, 0));
    assert!(icmp.verify_checksum());
    assert!(
        Ipv4Packet::new_checked(&frame[14..])
            .unwrap()
            .verify_checksum()
    );
}

#[test]
fn qinq_and_single_tags() {
    let mut f = v4_frame(UDP_DNS, b"x");
    f.vlans = vec![(0x88a8, 0x0064), (0x8100, 0xa00a)];
    let frame = f.build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!((p.outer_vlan, p.inner_vlan), (Some(100), Some(10)));
    assert_eq!(p.ethertype, EtherType::IPV4);
    assert_eq!(p.l3_offset, 22);
    assert_eq!(p.ports(), Some((5353, 53)));

    f.vlans = vec![(0x9100, 0x0fff)];
    let frame = f.build();
    let p = parse(&frame).unwrap();
    assert_eq!((p.outer_vlan, p.inner_vlan), (Some(4095), None));
    assert_eq!(p.l3_offset, 18);

    // A third tag is not walked: the frame reads as "other L3" with the TPID.
    f.vlans = vec![(0x88a8, 1), (0x8100, 2), (0x8100, 3)];
    let frame = f.build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.l3, L3::Other(EtherType::VLAN));
    assert_eq!(p.l3_offset, 22);

    // A tag cut off.
    assert_eq!(
        parse(&frame[..20]),
        Err(WireError::Truncated {
            layer: Layer::Vlan,
            needed: 4,
            available: 2
        })
    );
}

#[test]
fn non_ip_is_other() {
    // An ARP request, padded to 60 bytes.
    let mut frame = hex(
        "ffffffffffff 001b213a4c5d 0806 0001 0800 06 04 0001 001b213a4c5d c0a80001
         000000000000 c0a80002",
    );
    frame.resize(60, 0);
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.l3, L3::Other(EtherType::ARP));
    assert_eq!(p.l4, L4::NotIp);
    assert_eq!(p.payload, 14..60);
    assert_eq!(p.ipv4_addrs(), None);
    assert_eq!(p.ports(), None);
    // A bare Ethernet header of an unknown type, and an 802.3 length field.
    let p = parse(&hex("010203040506 0a0b0c0d0e0f 88cc")).unwrap();
    assert_eq!(p.l3, L3::Other(EtherType::LLDP));
    assert!(p.payload.is_empty());
    let p = parse(&hex("010203040506 0a0b0c0d0e0f 0026 4242")).unwrap();
    assert_eq!(p.l3, L3::Other(EtherType(0x26)));
}

#[test]
fn short_ethernet_is_truncated() {
    for len in 0..14 {
        let err = parse(&[0u8; 14][..len]).unwrap_err();
        assert_eq!(
            err,
            WireError::Truncated {
                layer: Layer::Ethernet,
                needed: 14,
                available: len
            }
        );
        assert_eq!(err.layer(), Layer::Ethernet);
    }
    assert_eq!(
        parse(&[0u8; 3]).unwrap_err().to_string(),
        "truncated Ethernet header: needs 14 bytes, only 3 available"
    );
}

#[test]
fn ipv4_header_errors() {
    let frame = v4_frame(UDP_DNS, b"abc").build();
    let with = |at: usize, byte: u8| {
        let mut f = frame.clone();
        f[at] = byte;
        parse(&f)
    };
    assert_eq!(
        with(14, 0x65).unwrap_err(),
        WireError::Malformed {
            layer: Layer::Ipv4,
            what: "version field is not 4"
        }
    );
    assert!(matches!(
        with(14, 0x44),
        Err(WireError::Malformed {
            layer: Layer::Ipv4,
            ..
        })
    ));
    assert_eq!(
        with(14, 0x4f).unwrap_err(),
        WireError::Truncated {
            layer: Layer::Ipv4,
            needed: 60,
            available: 31
        }
    );
    // Total length 19.
    assert!(matches!(
        with(17, 19),
        Err(WireError::Malformed {
            layer: Layer::Ipv4,
            ..
        })
    ));
    assert_eq!(
        parse(&frame[..33]).unwrap_err(),
        WireError::Truncated {
            layer: Layer::Ipv4,
            needed: 20,
            available: 19
        }
    );
}

#[test]
fn ipv4_options_are_skipped() {
    let mut f = v4_frame(
        tcp(TcpFlags::ACK | TcpFlags::PSH, &[]),
        b"GET / HTTP/1.1\r\n",
    );
    let Ip::V4 { options, .. } = &mut f.ip else {
        panic!()
    };
    *options = vec![0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00]; // router alert, NOPs, EOL
    let frame = f.build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.l4_offset, 14 + 28);
    assert_eq!(p.payload_bytes(&frame), b"GET / HTTP/1.1\r\n");
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert_eq!(ip.options().len(), 8);
    assert!(ip.verify_checksum());
}

#[test]
fn ipv4_fragments() {
    // First fragment of a large UDP datagram: MF set, offset 0; the UDP length counts
    // the whole datagram and is not an error.
    let mut f = v4_frame(UDP_DNS, &[7; 64]);
    let Ip::V4 { frag, .. } = &mut f.ip else {
        panic!()
    };
    *frag = Some((0, true));
    let mut frame = f.build();
    frame[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&3000u16.to_be_bytes());
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 0x4242,
            offset: 0,
            more: true
        })
    );
    assert!(matches!(p.l4, L4::Udp(UdpInfo { length: 3000, .. })));
    assert_eq!(p.ports(), Some((5353, 53)));
    assert_eq!(p.payload.len(), 64);

    // A later fragment: no L4 header, no ports, the data is the payload.
    let Ip::V4 { frag, .. } = &mut f.ip else {
        panic!()
    };
    *frag = Some((1480, false));
    let frame = f.build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 0x4242,
            offset: 1480,
            more: false
        })
    );
    assert_eq!(p.l4, L4::Fragment(IpProtocol::UDP));
    assert_eq!(p.ip_protocol(), Some(IpProtocol::UDP));
    assert_eq!(p.ports(), None);
    assert_eq!(p.payload_bytes(&frame), &[7; 64]);

    // A tiny first fragment that cannot hold a TCP header (RFC 1858): invalid, but the
    // addresses are there.
    let mut f = v4_frame(Transport::Other(6), &[0x01, 0xbb, 0x9c, 0x40, 0, 0, 0, 1]);
    let Ip::V4 { frag, .. } = &mut f.ip else {
        panic!()
    };
    *frag = Some((0, true));
    let frame = f.build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(
        p.l4,
        L4::Invalid {
            protocol: IpProtocol::TCP,
            ports: Some((443, 40000)),
            error: WireError::Truncated {
                layer: Layer::Tcp,
                needed: 20,
                available: 8
            },
        }
    );
    assert!(!p.truncated);
    assert_eq!(p.ports(), None);
    assert!(p.ipv4_addrs().is_some());
}

#[test]
fn snapshot_truncation() {
    let f = v4_frame(tcp(TcpFlags::SYN, &[2, 4, 5, 0xb4, 1, 1, 4, 2]), b"data");
    let frame = f.build();
    let full = parse(&frame).unwrap();
    assert_eq!(frame.len(), 14 + 20 + 28 + 4);
    // Payload cut: still TCP, payload clamped.
    let p = parse(&frame[..64]).unwrap();
    assert!(p.truncated);
    assert_eq!(p.l4, full.l4);
    assert_eq!(p.payload, 62..64);
    // Options cut: still TCP, options clamped, no payload.
    let p = parse(&frame[..58]).unwrap();
    check_invariants(&p, &frame[..58]);
    let L4::Tcp(t) = &p.l4 else { panic!("{p:?}") };
    assert_eq!((t.header_len, t.options.clone()), (28, 54..58));
    assert_eq!(p.payload, 58..58);
    // Fixed header cut after the ports: truncated L4, ports kept in the variant,
    // addresses available for flow hashing.
    let p = parse(&frame[..40]).unwrap();
    check_invariants(&p, &frame[..40]);
    assert!(p.truncated);
    assert_eq!(
        p.l4,
        L4::Truncated {
            protocol: IpProtocol::TCP,
            ports: Some((40000, 443))
        }
    );
    assert_eq!(p.ports(), None);
    assert_eq!(p.ipv4_addrs(), Some(([10, 1, 2, 3], [172, 16, 0, 9])));
    let p = parse(&frame[..36]).unwrap();
    assert_eq!(
        p.l4,
        L4::Truncated {
            protocol: IpProtocol::TCP,
            ports: None
        }
    );
    // Nothing after the IP header.
    let p = parse(&frame[..34]).unwrap();
    assert_eq!(p.l4_offset, 34);
    assert_eq!(
        p.l4,
        L4::Truncated {
            protocol: IpProtocol::TCP,
            ports: None
        }
    );
    // IP header cut: an error.
    assert!(matches!(
        parse(&frame[..33]),
        Err(WireError::Truncated {
            layer: Layer::Ipv4,
            ..
        })
    ));
}

#[test]
fn invalid_transport_headers() {
    // TCP data offset 4.
    let mut frame = v4_frame(tcp(TcpFlags::ACK, &[]), b"").build();
    frame[46] = 0x40;
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert!(matches!(
        p.l4,
        L4::Invalid {
            protocol: IpProtocol::TCP,
            ports: Some((40000, 443)),
            error: WireError::Malformed {
                layer: Layer::Tcp,
                ..
            }
        }
    ));
    // TCP data offset 15 in a 20-byte segment.
    frame[46] = 0xf0;
    let p = parse(&frame).unwrap();
    let L4::Invalid { error, .. } = p.l4 else {
        panic!()
    };
    assert_eq!(
        error,
        WireError::Truncated {
            layer: Layer::Tcp,
            needed: 60,
            available: 20
        }
    );
    assert_eq!(
        error.to_string(),
        "truncated TCP header: needs 60 bytes, only 20 available"
    );

    let udp_len_at = 14 + 20 + 4;
    let frame = v4_frame(UDP_DNS, b"0123456789").build();
    let with_len = |len: u16| {
        let mut f = frame.clone();
        f[udp_len_at..udp_len_at + 2].copy_from_slice(&len.to_be_bytes());
        let p = parse(&f).unwrap();
        check_invariants(&p, &f);
        p
    };
    // Length below 8.
    let p = with_len(7);
    assert!(matches!(
        p.l4,
        L4::Invalid {
            protocol: IpProtocol::UDP,
            ports: Some((5353, 53)),
            error: WireError::Malformed {
                layer: Layer::Udp,
                ..
            }
        }
    ));
    // Length beyond the IP payload (18 bytes).
    let p = with_len(19);
    let L4::Invalid { error, .. } = p.l4 else {
        panic!()
    };
    assert_eq!(
        error.to_string(),
        "malformed UDP header: length field exceeds the IP payload"
    );
    // Length short of the IP payload: the datagram ends there.
    let p = with_len(12);
    assert!(matches!(p.l4, L4::Udp(UdpInfo { length: 12, .. })));
    assert_eq!(p.payload_bytes(&frame), b"0123");
    let p = with_len(8);
    assert!(p.payload.is_empty());

    // ICMP shorter than 8 bytes.
    let frame = v4_frame(Transport::Other(1), &[8, 0, 0, 0]).build();
    let p = parse(&frame).unwrap();
    assert_eq!(
        p.l4,
        L4::Invalid {
            protocol: IpProtocol::ICMP,
            ports: None,
            error: WireError::Truncated {
                layer: Layer::Icmp,
                needed: 8,
                available: 4
            }
        }
    );
}

#[test]
fn ipv6_hop_by_hop_and_fragment_headers() {
    let exts = vec![
        Ext::Generic { kind: 0, len: 0 },
        Ext::Fragment {
            id: 0xdead_beef,
            offset: 0,
            more: true,
        },
    ];
    let f = v6_frame(exts, UDP_DNS, b"first fragment");
    let frame = f.build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    let L3::Ipv6(ip) = p.l3 else { panic!() };
    assert_eq!(
        (ip.next_header, ip.ext_headers, ip.flow_label),
        (IpProtocol::HOP_BY_HOP, 2, 0xbeef)
    );
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 0xdead_beef,
            offset: 0,
            more: true
        })
    );
    assert_eq!(p.l4_offset, 14 + 40 + 16);
    assert_eq!(p.ports(), Some((5353, 53)));
    assert_eq!(p.payload_bytes(&frame), b"first fragment");
    let udp = UdpDatagram::new_checked(&frame[p.l4_offset..p.l3_end]).unwrap();
    assert!(udp.verify_checksum_v6(ip.src, ip.dst));
    assert_eq!(p.ipv6_addrs(), Some((ip.src, ip.dst)));
    assert_eq!(p.ipv4_addrs(), None);

    let exts = vec![
        Ext::Generic { kind: 0, len: 1 },
        Ext::Fragment {
            id: 7,
            offset: 1232,
            more: false,
        },
    ];
    let frame = v6_frame(exts, UDP_DNS, b"later").build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.l4, L4::Fragment(IpProtocol::UDP));
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 7,
            offset: 1232,
            more: false
        })
    );
    assert_eq!(p.payload_bytes(&frame), b"later");
    assert_eq!(p.ports(), None);
}

#[test]
fn ipv6_routing_dest_opts_ah_then_tcp() {
    let exts = vec![
        Ext::Generic { kind: 43, len: 2 },
        Ext::Generic { kind: 60, len: 0 },
        Ext::Generic { kind: 51, len: 4 },
    ];
    let frame = v6_frame(
        exts,
        tcp(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR, &[]),
        b"",
    )
    .build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.l4_offset, 14 + 40 + 24 + 8 + 24);
    let L4::Tcp(t) = &p.l4 else { panic!() };
    assert_eq!(t.flags, TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR);
}

#[test]
fn ipv6_esp_and_no_next_header_end_the_walk() {
    let frame = v6_frame(
        vec![Ext::Generic { kind: 60, len: 0 }],
        Transport::Other(50),
        b"\x00\x00\x10\x01sealed",
    )
    .build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(p.l4, L4::Other(IpProtocol::ESP));
    assert_eq!(p.payload_bytes(&frame), b"\x00\x00\x10\x01sealed");
    let frame = v6_frame(vec![], Transport::Other(59), b"").build();
    let p = parse(&frame).unwrap();
    assert_eq!(p.l4, L4::Other(IpProtocol::IPV6_NO_NEXT));
    assert!(p.payload.is_empty());
}

#[test]
fn ipv6_chain_errors_keep_the_addresses() {
    let exts = (0..17).map(|_| Ext::Generic { kind: 60, len: 0 }).collect();
    let frame = v6_frame(exts, UDP_DNS, b"").build();
    let p = parse(&frame).unwrap();
    check_invariants(&p, &frame);
    assert_eq!(
        p.l4,
        L4::Invalid {
            protocol: IpProtocol::IPV6_DEST_OPTS,
            ports: None,
            error: WireError::Malformed {
                layer: Layer::Ipv6Ext,
                what: "more than 16 extension headers"
            },
        }
    );
    assert!(p.ipv6_addrs().is_some());

    // A hop-by-hop header claiming 16 bytes in an 8-byte payload.
    let mut frame = v6_frame(
        vec![Ext::Generic { kind: 0, len: 0 }],
        Transport::Other(59),
        b"",
    )
    .build();
    frame[14 + 41] = 1;
    let p = parse(&frame).unwrap();
    assert!(matches!(
        p.l4,
        L4::Invalid {
            protocol: IpProtocol::HOP_BY_HOP,
            error: WireError::Truncated {
                layer: Layer::Ipv6Ext,
                ..
            },
            ..
        }
    ));

    // The capture ends inside the hop-by-hop header.
    let frame = v6_frame(vec![Ext::Generic { kind: 0, len: 1 }], UDP_DNS, b"").build();
    let p = parse(&frame[..14 + 40 + 10]).unwrap();
    check_invariants(&p, &frame[..64]);
    assert_eq!(
        p.l4,
        L4::Truncated {
            protocol: IpProtocol::HOP_BY_HOP,
            ports: None
        }
    );
    assert_eq!(p.l4_offset, 54);
    assert!(p.truncated);

    let mut bad = frame.clone();
    bad[14] = 0x40;
    assert_eq!(
        parse(&bad).unwrap_err().to_string(),
        "malformed IPv6 header: version field is not 6"
    );
    assert!(matches!(
        parse(&frame[..50]),
        Err(WireError::Truncated {
            layer: Layer::Ipv6,
            needed: 40,
            available: 36
        })
    ));
}

// ---------------------------------------------------------------------------------
// Properties

fn arb_v4() -> impl Strategy<Value = Ip> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
        proptest::option::of(((0u16..8192).prop_map(|o| o * 8), any::<bool>())),
        (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
    )
        .prop_map(|(src, dst, ttl, ident, dont_frag, frag, options)| Ip::V4 {
            src,
            dst,
            ttl,
            ident,
            dont_frag,
            frag,
            options,
        })
}

fn arb_ext() -> impl Strategy<Value = Ext> {
    prop_oneof![
        4 => (prop::sample::select(vec![0u8, 43, 60, 51, 135, 139, 140]), 0u8..4)
            .prop_map(|(kind, len)| Ext::Generic { kind, len }),
        1 => (any::<u32>(), (0u16..8192).prop_map(|o| o * 8), any::<bool>())
            .prop_map(|(id, offset, more)| Ext::Fragment { id, offset, more }),
    ]
}

fn arb_v6() -> impl Strategy<Value = Ip> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u8>(),
        any::<u8>(),
        0u32..(1 << 20),
        proptest::collection::vec(arb_ext(), 0..5),
    )
        .prop_map(
            |(src, dst, hop_limit, traffic_class, flow_label, mut exts)| {
                // At most one fragment header.
                let mut seen = false;
                exts.retain(|e| {
                    !matches!(e, Ext::Fragment { .. }) || !std::mem::replace(&mut seen, true)
                });
                // A non-first fragment holds no header after its fragment header.
                if let Some(i) = exts
                    .iter()
                    .position(|e| matches!(e, Ext::Fragment { offset, .. } if *offset != 0))
                {
                    exts.truncate(i + 1);
                }
                Ip::V6 {
                    src,
                    dst,
                    hop_limit,
                    traffic_class,
                    flow_label,
                    exts,
                }
            },
        )
}

fn arb_tcp() -> impl Strategy<Value = Transport> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        0u16..0x200,
        any::<u16>(),
        (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
    )
        .prop_map(
            |(src, dst, seq, ack, flags, window, options)| Transport::Tcp {
                src,
                dst,
                seq,
                ack,
                flags,
                window,
                options,
            },
        )
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let vlans = proptest::collection::vec(
        (
            prop::sample::select(vec![0x8100u16, 0x88a8, 0x9100]),
            any::<u16>(),
        ),
        0..=2,
    );
    let other_protocol = any::<u8>().prop_filter("not parsed", |p| {
        !matches!(p, 1 | 6 | 17 | 58) && !IpProtocol(*p).is_ipv6_extension()
    });
    let ip_and_l4 = prop_oneof![
        (
            arb_v4(),
            prop_oneof![
                arb_tcp(),
                (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| Transport::Udp { src, dst }),
                (any::<u8>(), any::<u8>(), any::<[u8; 4]>()).prop_map(|(msg_type, code, rest)| {
                    Transport::Icmp {
                        msg_type,
                        code,
                        rest,
                    }
                }),
                other_protocol.clone().prop_map(Transport::Other),
            ]
        ),
        (
            arb_v6(),
            prop_oneof![
                arb_tcp(),
                (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| Transport::Udp { src, dst }),
                (any::<u8>(), any::<u8>(), any::<[u8; 4]>()).prop_map(|(msg_type, code, rest)| {
                    Transport::Icmpv6 {
                        msg_type,
                        code,
                        rest,
                    }
                }),
                other_protocol.prop_map(Transport::Other),
            ]
        ),
        any::<u16>()
            .prop_filter("not IP", |t| !matches!(
                t,
                0x0800 | 0x86dd | 0x8100 | 0x88a8 | 0x9100
            ))
            .prop_map(|t| (Ip::Other(t), Transport::Other(0))),
    ];
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        vlans,
        ip_and_l4,
        proptest::collection::vec(any::<u8>(), 0..80),
        0usize..10,
    )
        .prop_map(
            |(dst_mac, src_mac, vlans, (ip, l4), payload, padding)| Frame {
                dst_mac,
                src_mac,
                vlans,
                ip,
                l4,
                payload,
                padding,
            },
        )
}

/// Checks that `p` says what `f` describes.
fn assert_matches_spec(f: &Frame, p: &ParsedPacket, frame: &[u8]) {
    check_invariants(p, frame);
    assert_eq!(p.dst_mac, f.dst_mac);
    assert_eq!(p.src_mac, f.src_mac);
    assert_eq!(p.outer_vlan, f.vlans.first().map(|v| v.1 & 0xfff));
    assert_eq!(p.inner_vlan, f.vlans.get(1).map(|v| v.1 & 0xfff));
    assert_eq!(p.l3_offset, 14 + 4 * f.vlans.len());
    assert!(!p.truncated);
    let protocol = f.l4.protocol();
    let (addrs_ok, fragment) = match (&f.ip, &p.l3) {
        (Ip::Other(t), L3::Other(e)) => {
            assert_eq!(*e, EtherType(*t));
            let mut expected = f.payload.clone();
            expected.resize(f.payload.len() + f.padding, 0);
            assert_eq!(p.payload_bytes(frame), &expected[..]);
            return;
        }
        (
            Ip::V4 {
                src,
                dst,
                ttl,
                ident,
                dont_frag,
                frag,
                options,
            },
            L3::Ipv4(ip),
        ) => {
            assert_eq!(
                (ip.src, ip.dst, ip.ttl, ip.ident),
                (*src, *dst, *ttl, *ident)
            );
            assert_eq!(ip.protocol, protocol);
            assert_eq!(ip.dont_frag, *dont_frag);
            assert_eq!(p.ipv4_addrs(), Some((*src, *dst)));
            assert_eq!(p.l4_offset, p.l3_offset + 20 + options.len());
            let fragment =
                frag.filter(|(offset, more)| *offset != 0 || *more)
                    .map(|(offset, more)| Fragment {
                        id: u32::from(*ident),
                        offset,
                        more,
                    });
            let v = Ipv4Packet::new_checked(&frame[p.l3_offset..]).unwrap();
            assert!(v.verify_checksum());
            assert_eq!(v.options(), &options[..]);
            ((*src, *dst) == (ip.src, ip.dst), fragment)
        }
        (
            Ip::V6 {
                src,
                dst,
                hop_limit,
                traffic_class,
                flow_label,
                exts,
            },
            L3::Ipv6(ip),
        ) => {
            assert_eq!((ip.src, ip.dst, ip.hop_limit), (*src, *dst, *hop_limit));
            assert_eq!(
                (ip.traffic_class, ip.flow_label),
                (*traffic_class, *flow_label)
            );
            assert_eq!(p.ipv6_addrs(), Some((*src, *dst)));
            // The walk stops after a non-first fragment's header.
            let mut walked = 0;
            let mut fragment = None;
            for e in exts {
                walked += 1;
                if let Ext::Fragment { id, offset, more } = *e {
                    fragment = Some(Fragment { id, offset, more });
                    if offset != 0 {
                        break;
                    }
                }
            }
            assert_eq!(usize::from(ip.ext_headers), walked);
            (true, fragment)
        }
        (ip, l3) => panic!("built {ip:?}, parsed {l3:?}"),
    };
    assert!(addrs_ok);
    assert_eq!(p.fragment, fragment);
    assert_eq!(p.l3_end, frame.len() - f.padding);
    assert_eq!(p.ip_protocol(), Some(protocol));
    let datagram = &frame[p.l4_offset..p.l3_end];
    if f.is_non_first_fragment() {
        assert_eq!(p.l4, L4::Fragment(protocol));
        assert_eq!(p.payload_bytes(frame), &f.payload[..]);
        assert_eq!(p.ports(), None);
        return;
    }
    assert_eq!(p.payload_bytes(frame), &f.payload[..]);
    match (&f.l4, &p.l4) {
        (
            Transport::Tcp {
                src,
                dst,
                seq,
                ack,
                flags,
                window,
                options,
            },
            L4::Tcp(t),
        ) => {
            assert_eq!(
                (t.src_port, t.dst_port, t.seq, t.ack),
                (*src, *dst, *seq, *ack)
            );
            assert_eq!((t.flags, t.window), (TcpFlags(*flags), *window));
            assert_eq!(t.header_len, 20 + options.len());
            assert_eq!(&frame[t.options.clone()], &options[..]);
            assert_eq!(p.ports(), Some((*src, *dst)));
            let seg = TcpSegment::new_checked(datagram).unwrap();
            assert_eq!(seg.payload(), &f.payload[..]);
            match &p.l3 {
                L3::Ipv4(ip) => assert!(seg.verify_checksum_v4(ip.src, ip.dst)),
                L3::Ipv6(ip) => assert!(seg.verify_checksum_v6(ip.src, ip.dst)),
                L3::Other(_) => unreachable!(),
            }
        }
        (Transport::Udp { src, dst }, L4::Udp(u)) => {
            assert_eq!((u.src_port, u.dst_port), (*src, *dst));
            assert_eq!(usize::from(u.length), 8 + f.payload.len());
            assert_eq!(p.ports(), Some((*src, *dst)));
            let udp = UdpDatagram::new_checked(datagram).unwrap();
            match &p.l3 {
                L3::Ipv4(ip) => assert!(udp.verify_checksum_v4(ip.src, ip.dst)),
                L3::Ipv6(ip) => assert!(udp.verify_checksum_v6(ip.src, ip.dst)),
                L3::Other(_) => unreachable!(),
            }
        }
        (
            Transport::Icmp {
                msg_type,
                code,
                rest,
            },
            L4::Icmp(i),
        ) => {
            assert_eq!((i.msg_type, i.code), (*msg_type, *code));
            let icmp = IcmpPacket::new_checked(datagram).unwrap();
            assert_eq!(icmp.rest_of_header(), *rest);
            assert!(icmp.verify_checksum());
        }
        (
            Transport::Icmpv6 {
                msg_type,
                code,
                rest,
            },
            L4::Icmpv6(i),
        ) => {
            assert_eq!((i.msg_type, i.code), (*msg_type, *code));
            let icmp = Icmpv6Packet::new_checked(datagram).unwrap();
            assert_eq!(icmp.message_header(), *rest);
            let (src, dst) = p.ipv6_addrs().unwrap();
            assert!(icmp.verify_checksum(src, dst));
        }
        (Transport::Other(n), L4::Other(q)) => assert_eq!(IpProtocol(*n), *q),
        (built, parsed) => panic!("built {built:?}, parsed {parsed:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic `parse` or any checked view.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_and_exercise(&bytes);
    }

    /// Arbitrary bytes behind a plausible Ethernet header and IP version nibble reach
    /// the deeper layers; still no panic, offsets in range.
    #[test]
    fn arbitrary_ip_bytes_never_panic(
        ethertype in prop::sample::select(vec![0x0800u16, 0x86dd, 0x8100, 0x88a8, 0x0806]),
        version in prop::sample::select(vec![0x45u8, 0x46, 0x4f, 0x60, 0x61, 0x00]),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&ethertype.to_be_bytes());
        bytes.push(version);
        bytes.extend_from_slice(&tail);
        let _ = parse_and_exercise(&bytes);
    }

    /// Frames built from random fields parse back to those fields.
    #[test]
    fn built_frames_round_trip(f in arb_frame()) {
        let frame = f.build();
        let p = parse(&frame).unwrap();
        assert_matches_spec(&f, &p, &frame);
    }

    /// Every prefix of a valid frame parses with consistent offsets, or fails as
    /// truncated below the transport layer; prefixes that keep the whole datagram
    /// parse as the whole frame does.
    #[test]
    fn every_prefix_parses_or_is_truncated(f in arb_frame()) {
        let frame = f.build();
        let full = parse(&frame).unwrap();
        for len in 0..=frame.len() {
            let prefix = &frame[..len];
            match parse_and_exercise(prefix) {
                Ok(p) => {
                    // All of L3 but the count of extension headers, which depends on
                    // how much of the chain was captured.
                    match (p.l3, full.l3) {
                        (L3::Ipv6(a), L3::Ipv6(b)) => {
                            prop_assert!(a.ext_headers <= b.ext_headers);
                            prop_assert_eq!(Ipv6Info { ext_headers: 0, ..a }, Ipv6Info { ext_headers: 0, ..b });
                        }
                        (a, b) => prop_assert_eq!(a, b),
                    }
                    prop_assert_eq!(p.l3_offset, full.l3_offset);
                    if matches!(full.l3, L3::Other(_)) {
                        continue;
                    }
                    if len >= full.l3_end {
                        prop_assert_eq!(&p, &full);
                    } else {
                        prop_assert!(p.truncated);
                        prop_assert_eq!(p.l3_end, len);
                        let same_kind = std::mem::discriminant(&p.l4) == std::mem::discriminant(&full.l4);
                        prop_assert!(same_kind || matches!(p.l4, L4::Truncated { .. }), "{:?}", p.l4);
                    }
                }
                Err(WireError::Truncated { layer, .. }) => {
                    prop_assert!(matches!(layer, Layer::Ethernet | Layer::Vlan | Layer::Ipv4 | Layer::Ipv6));
                    prop_assert!(len < full.l4_offset);
                }
                Err(e) => prop_assert!(false, "prefix of {} bytes: {}", len, e),
            }
        }
    }

    /// Overwriting any byte of a valid frame never panics and keeps offsets in range.
    #[test]
    fn corrupted_bytes_never_panic(
        f in arb_frame(),
        hits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut frame = f.build();
        for (at, value) in hits {
            let i = at.index(frame.len());
            frame[i] = value;
            let _ = parse_and_exercise(&frame);
        }
    }
}
