//! An independent decoder for the tests: parses frames and verifies checksums without
//! using the crate's own builders or checksum code.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use traffic_gen::GeneratedPacket;

/// Transport of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmp6,
}

/// TCP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: usize,
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub ts: u64,
    pub flow_id: u64,
    pub frame_len: usize,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub v6: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub proto: Proto,
    /// Ports, or (identifier, sequence) for ICMP echo.
    pub sport: u16,
    pub dport: u16,
    /// ICMP type.
    pub icmp_type: u8,
    pub tcp: Option<Tcp>,
    pub payload: Vec<u8>,
}

impl Decoded {
    /// Direction-independent flow key.
    pub fn key(&self) -> FlowKey {
        let a = (
            self.src,
            if self.proto == Proto::Tcp || self.proto == Proto::Udp {
                self.sport
            } else {
                0
            },
        );
        let b = (
            self.dst,
            if self.proto == Proto::Tcp || self.proto == Proto::Udp {
                self.dport
            } else {
                0
            },
        );
        let ident = if matches!(self.proto, Proto::Icmp | Proto::Icmp6) {
            self.sport
        } else {
            0
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            proto: self.proto,
            lo,
            hi,
            ident,
        }
    }
}

/// Identifies a flow from its packets alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    pub proto: Proto,
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub ident: u16,
}

/// RFC 1071 sum over 16-bit words, written plainly.
fn ones_sum(parts: &[&[u8]]) -> u16 {
    // Every part but the last has even length in these packets, so concatenating is
    // the same as summing the parts separately.
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(p);
    }
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut sum: u32 = 0;
    for w in bytes.chunks(2) {
        sum += u32::from(w[0]) << 8 | u32::from(w[1]);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes a generated packet, panicking with a description on any malformation or
/// checksum error.
pub fn decode(p: &GeneratedPacket) -> Decoded {
    let f = &p.frame;
    assert!(f.len() >= 60, "frame shorter than 60 bytes");
    assert!(f.len() <= 1514, "frame longer than 1514 bytes: {}", f.len());
    match be16(f, 12) {
        0x0800 => {
            assert_eq!(f[14], 0x45, "IPv4 version and header length");
            let total = usize::from(be16(f, 16));
            assert!(14 + total <= f.len(), "IPv4 total length beyond frame");
            assert!(
                f.len() == 14 + total || f.len() == 60,
                "trailing bytes after IPv4 packet"
            );
            assert_eq!(ones_sum(&[&f[14..34]]), 0xffff, "bad IPv4 header checksum");
            let s: [u8; 4] = f[26..30].try_into().unwrap();
            let d: [u8; 4] = f[30..34].try_into().unwrap();
            let proto = f[23];
            let l4 = &f[34..14 + total];
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&s);
            pseudo.extend_from_slice(&d);
            pseudo.extend_from_slice(&[0, proto]);
            pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            finish(
                p,
                false,
                proto,
                l4,
                IpAddr::from(s),
                IpAddr::from(d),
                f[22],
                &pseudo,
            )
        }
        0x86dd => {
            assert_eq!(f[14] >> 4, 6, "IPv6 version");
            let plen = usize::from(be16(f, 18));
            assert!(
                f.len() == 54 + plen || (f.len() == 60 && 54 + plen <= 60),
                "IPv6 payload length mismatch"
            );
            let s: [u8; 16] = f[22..38].try_into().unwrap();
            let d: [u8; 16] = f[38..54].try_into().unwrap();
            let nh = f[20];
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&s);
            pseudo.extend_from_slice(&d);
            pseudo.extend_from_slice(&(plen as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, nh]);
            let l4 = &f[54..54 + plen];
            finish(
                p,
                true,
                nh,
                l4,
                IpAddr::from(s),
                IpAddr::from(d),
                f[21],
                &pseudo,
            )
        }
        other => panic!("unexpected EtherType {other:#06x}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    p: &GeneratedPacket,
    v6: bool,
    l4_proto: u8,
    l4: &[u8],
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    pseudo: &[u8],
) -> Decoded {
    let f = &p.frame;
    let mut d = Decoded {
        ts: p.timestamp_ns,
        flow_id: p.flow_id,
        frame_len: f.len(),
        src_mac: f[6..12].try_into().unwrap(),
        dst_mac: f[0..6].try_into().unwrap(),
        v6,
        src,
        dst,
        ttl,
        proto: Proto::Tcp,
        sport: 0,
        dport: 0,
        icmp_type: 0,
        tcp: None,
        payload: Vec::new(),
    };
    match l4_proto {
        6 => {
            assert_eq!(ones_sum(&[pseudo, l4]), 0xffff, "bad TCP checksum");
            let off = usize::from(l4[12] >> 4) * 4;
            assert!(
                (20..=60).contains(&off) && off <= l4.len(),
                "bad TCP data offset"
            );
            d.sport = be16(l4, 0);
            d.dport = be16(l4, 2);
            d.tcp = Some(Tcp {
                seq: be32(l4, 4),
                ack: be32(l4, 8),
                flags: l4[13],
                window: be16(l4, 14),
                options: off - 20,
            });
            d.payload = l4[off..].to_vec();
        }
        17 => {
            assert_eq!(usize::from(be16(l4, 4)), l4.len(), "UDP length mismatch");
            assert_ne!(be16(l4, 6), 0, "UDP checksum missing");
            assert_eq!(ones_sum(&[pseudo, l4]), 0xffff, "bad UDP checksum");
            d.proto = Proto::Udp;
            d.sport = be16(l4, 0);
            d.dport = be16(l4, 2);
            d.payload = l4[8..].to_vec();
        }
        1 => {
            assert!(!v6);
            assert_eq!(ones_sum(&[l4]), 0xffff, "bad ICMP checksum");
            d.proto = Proto::Icmp;
            d.icmp_type = l4[0];
            d.sport = be16(l4, 4);
            d.dport = be16(l4, 6);
            d.payload = l4[8..].to_vec();
        }
        58 => {
            assert!(v6);
            assert_eq!(ones_sum(&[pseudo, l4]), 0xffff, "bad ICMPv6 checksum");
            d.proto = Proto::Icmp6;
            d.icmp_type = l4[0];
            d.sport = be16(l4, 4);
            d.dport = be16(l4, 6);
            d.payload = l4[8..].to_vec();
        }
        other => panic!("unexpected IP protocol {other}"),
    }
    d
}

/// Decodes a stream, grouping packets by flow key in capture order.
pub fn flows(packets: &[GeneratedPacket]) -> BTreeMap<FlowKey, Vec<Decoded>> {
    let mut map: BTreeMap<FlowKey, Vec<Decoded>> = BTreeMap::new();
    for p in packets {
        let d = decode(p);
        map.entry(d.key()).or_default().push(d);
    }
    map
}

/// The application bytes each way (client to server first) of a flow, TCP reassembled
/// by sequence number, UDP and ICMP concatenated.
pub fn streams(pkts: &[Decoded]) -> (Vec<u8>, Vec<u8>) {
    let client = pkts[0].src;
    let client_port = pkts[0].sport;
    let mut out = (Vec::new(), Vec::new());
    let mut segs: [Vec<(u32, &[u8])>; 2] = [Vec::new(), Vec::new()];
    for p in pkts {
        let dir = usize::from(!(p.src == client && (p.sport == client_port || p.tcp.is_none())));
        match p.tcp {
            Some(t) => {
                if !p.payload.is_empty() {
                    segs[dir].push((t.seq, &p.payload));
                }
            }
            None => {
                let o = if dir == 0 { &mut out.0 } else { &mut out.1 };
                o.extend_from_slice(&p.payload);
            }
        }
    }
    for (dir, s) in segs.iter_mut().enumerate() {
        if s.is_empty() {
            continue;
        }
        let base = s[0].0;
        s.sort_by_key(|(seq, _)| seq.wrapping_sub(base));
        let o = if dir == 0 { &mut out.0 } else { &mut out.1 };
        for (_, data) in s.iter() {
            o.extend_from_slice(data);
        }
    }
    out
}

/// True if `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
