//! Builders for Ethernet II frames carrying IPv4 or IPv6 with TCP, UDP, ICMP echo or
//! ICMPv6 echo, with every checksum filled in.
//!
//! The builders are public so that tests elsewhere can craft single packets:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use traffic_gen::frame::{build, IpFields, IpPair, L4Header, Mac, TcpHeader, tcp_flags};
//!
//! let ip = IpPair::V4 { src: Ipv4Addr::new(10, 0, 0, 1), dst: Ipv4Addr::new(192, 0, 2, 7) };
//! let tcp = TcpHeader { src_port: 40000, dst_port: 80, seq: 1, ack: 1,
//!                       flags: tcp_flags::ACK | tcp_flags::PSH, window: 502, options: &[] };
//! let mut frame = Vec::new();
//! build(&mut frame, Mac::local(1), Mac::local(2), &ip, &IpFields::default(),
//!       &L4Header::Tcp(tcp), b"GET / HTTP/1.1\r\n\r\n");
//! assert_eq!(frame.len(), 14 + 20 + 20 + 18);
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;

/// Bytes in an Ethernet II header.
pub const ETH_HEADER: usize = 14;
/// Bytes in an IPv4 header without options.
pub const IPV4_HEADER: usize = 20;
/// Bytes in an IPv6 header.
pub const IPV6_HEADER: usize = 40;
/// Bytes in a TCP header without options.
pub const TCP_HEADER: usize = 20;
/// Bytes in a UDP header.
pub const UDP_HEADER: usize = 8;
/// Bytes in an ICMP or ICMPv6 echo header (type, code, checksum, identifier, sequence).
pub const ICMP_ECHO_HEADER: usize = 8;
/// The shortest Ethernet frame without FCS; shorter frames are padded with zeros.
pub const MIN_FRAME: usize = 60;
/// The longest Ethernet frame without FCS for a 1500-byte MTU.
pub const MAX_FRAME: usize = 1514;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IPv6 next-header number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// TCP header flag bits.
pub mod tcp_flags {
    /// No more data from the sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push buffered data to the application.
    pub const PSH: u8 = 0x08;
    /// The acknowledgement field is significant.
    pub const ACK: u8 = 0x10;
}

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// A locally administered unicast address derived from `n` (first octet `0x02`).
    pub fn local(n: u64) -> Mac {
        let b = n.to_be_bytes();
        Mac([0x02, b[3], b[4], b[5], b[6], b[7]])
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Source and destination addresses of one packet, both of one IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpPair {
    /// IPv4 addresses.
    V4 {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
    },
    /// IPv6 addresses.
    V6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address.
        dst: Ipv6Addr,
    },
}

impl IpPair {
    /// The pair with source and destination exchanged.
    pub fn reversed(self) -> IpPair {
        match self {
            IpPair::V4 { src, dst } => IpPair::V4 { src: dst, dst: src },
            IpPair::V6 { src, dst } => IpPair::V6 { src: dst, dst: src },
        }
    }

    /// True for IPv6.
    pub fn is_v6(&self) -> bool {
        matches!(self, IpPair::V6 { .. })
    }

    /// Bytes of the IP header (without IPv4 options or IPv6 extension headers).
    pub fn header_len(&self) -> usize {
        if self.is_v6() {
            IPV6_HEADER
        } else {
            IPV4_HEADER
        }
    }

    /// The source address.
    pub fn src(&self) -> IpAddr {
        match *self {
            IpPair::V4 { src, .. } => IpAddr::V4(src),
            IpPair::V6 { src, .. } => IpAddr::V6(src),
        }
    }

    /// The destination address.
    pub fn dst(&self) -> IpAddr {
        match *self {
            IpPair::V4 { dst, .. } => IpAddr::V4(dst),
            IpPair::V6 { dst, .. } => IpAddr::V6(dst),
        }
    }
}

/// IP header fields other than addresses and lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFields {
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub ident: u16,
    /// IPv4 don't-fragment flag (ignored for IPv6).
    pub dont_fragment: bool,
    /// IPv6 flow label, 20 bits (ignored for IPv4).
    pub flow_label: u32,
}

impl Default for IpFields {
    fn default() -> Self {
        IpFields {
            ttl: 64,
            ident: 0,
            dont_fragment: true,
            flow_label: 0,
        }
    }
}

/// A TCP header; `options` must be a multiple of 4 bytes, at most 40.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits, see [`tcp_flags`].
    pub flags: u8,
    /// Advertised window (as sent, before window scaling).
    pub window: u16,
    /// Encoded options.
    pub options: &'a [u8],
}

/// The transport header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Header<'a> {
    /// TCP.
    Tcp(TcpHeader<'a>),
    /// UDP.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP echo (IPv4) or ICMPv6 echo (IPv6) request or reply.
    IcmpEcho {
        /// True for a reply.
        reply: bool,
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
}

impl L4Header<'_> {
    /// Bytes of this transport header.
    pub fn len(&self) -> usize {
        match self {
            L4Header::Tcp(t) => TCP_HEADER + t.options.len(),
            L4Header::Udp { .. } => UDP_HEADER,
            L4Header::IcmpEcho { .. } => ICMP_ECHO_HEADER,
        }
    }

    /// Always false: every transport header has bytes. Present for symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The length of the frame [`build`] produces for these header sizes and payload.
pub fn frame_len(ip_header: usize, l4_header: usize, payload: usize) -> usize {
    (ETH_HEADER + ip_header + l4_header + payload).max(MIN_FRAME)
}

/// Appends one Ethernet frame to `out`: Ethernet II, IPv4 or IPv6, the transport header
/// and `payload`, with the IPv4 header checksum and the transport checksum (over the
/// pseudo-header where the protocol has one) computed. Frames shorter than
/// [`MIN_FRAME`] are padded with zeros after the IP packet.
///
/// # Panics
/// If TCP options are not a multiple of 4 bytes or longer than 40, or the IP packet
/// would exceed 65535 bytes.
pub fn build(
    out: &mut Vec<u8>,
    src_mac: Mac,
    dst_mac: Mac,
    ip: &IpPair,
    fields: &IpFields,
    l4: &L4Header<'_>,
    payload: &[u8],
) {
    let start = out.len();
    out.extend_from_slice(&dst_mac.0);
    out.extend_from_slice(&src_mac.0);
    let ethertype = if ip.is_v6() {
        ETHERTYPE_IPV6
    } else {
        ETHERTYPE_IPV4
    };
    out.extend_from_slice(&ethertype.to_be_bytes());

    let l4_len = l4.len() + payload.len();
    let protocol = match l4 {
        L4Header::Tcp(_) => PROTO_TCP,
        L4Header::Udp { .. } => PROTO_UDP,
        L4Header::IcmpEcho { .. } if ip.is_v6() => PROTO_ICMPV6,
        L4Header::IcmpEcho { .. } => PROTO_ICMP,
    };

    let ip_start = out.len();
    match *ip {
        IpPair::V4 { src, dst } => {
            let total = u16::try_from(IPV4_HEADER + l4_len).expect("IPv4 packet over 65535 bytes");
            let flags_frag: u16 = if fields.dont_fragment { 0x4000 } else { 0 };
            out.extend_from_slice(&[0x45, 0x00]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&fields.ident.to_be_bytes());
            out.extend_from_slice(&flags_frag.to_be_bytes());
            out.extend_from_slice(&[fields.ttl, protocol, 0, 0]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
            let sum = checksum::checksum(&out[ip_start..ip_start + IPV4_HEADER]);
            out[ip_start + 10..ip_start + 12].copy_from_slice(&sum.to_be_bytes());
        }
        IpPair::V6 { src, dst } => {
            let payload_len = u16::try_from(l4_len).expect("IPv6 payload over 65535 bytes");
            let first = (6u32 << 28) | (fields.flow_label & 0x000f_ffff);
            out.extend_from_slice(&first.to_be_bytes());
            out.extend_from_slice(&payload_len.to_be_bytes());
            out.extend_from_slice(&[protocol, fields.ttl]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
    }

    let l4_start = out.len();
    let checksum_at = match *l4 {
        L4Header::Tcp(t) => {
            assert!(
                t.options.len() % 4 == 0 && t.options.len() <= 40,
                "TCP options must be a multiple of 4 bytes, at most 40"
            );
            let offset = ((TCP_HEADER + t.options.len()) / 4) as u8;
            out.extend_from_slice(&t.src_port.to_be_bytes());
            out.extend_from_slice(&t.dst_port.to_be_bytes());
            out.extend_from_slice(&t.seq.to_be_bytes());
            out.extend_from_slice(&t.ack.to_be_bytes());
            out.extend_from_slice(&[offset << 4, t.flags]);
            out.extend_from_slice(&t.window.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            out.extend_from_slice(t.options);
            l4_start + 16
        }
        L4Header::Udp { src_port, dst_port } => {
            out.extend_from_slice(&src_port.to_be_bytes());
            out.extend_from_slice(&dst_port.to_be_bytes());
            out.extend_from_slice(&(l4_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            l4_start + 6
        }
        L4Header::IcmpEcho { reply, ident, seq } => {
            let kind = match (ip.is_v6(), reply) {
                (false, false) => 8,
                (false, true) => 0,
                (true, false) => 128,
                (true, true) => 129,
            };
            out.extend_from_slice(&[kind, 0, 0, 0]);
            out.extend_from_slice(&ident.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            l4_start + 2
        }
    };
    out.extend_from_slice(payload);

    let pseudo = match (*ip, protocol) {
        (_, PROTO_ICMP) => 0,
        (IpPair::V4 { src, dst }, _) => checksum::pseudo_v4(src, dst, protocol, l4_len as u16),
        (IpPair::V6 { src, dst }, _) => checksum::pseudo_v6(src, dst, protocol, l4_len as u32),
    };
    let mut sum = checksum::fold(checksum::add(pseudo, &out[l4_start..]));
    if protocol == PROTO_UDP && sum == 0 {
        // A computed UDP checksum of zero is sent as all ones (zero means "none").
        sum = 0xffff;
    }
    out[checksum_at..checksum_at + 2].copy_from_slice(&sum.to_be_bytes());

    if out.len() - start < MIN_FRAME {
        out.resize(start + MIN_FRAME, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> IpPair {
        IpPair::V4 {
            src: Ipv4Addr::new(10, 1, 2, 3),
            dst: Ipv4Addr::new(192, 0, 2, 10),
        }
    }

    fn v6() -> IpPair {
        IpPair::V6 {
            src: "fd00::1".parse().unwrap(),
            dst: "2001:db8::10".parse().unwrap(),
        }
    }

    fn verify_l4(frame: &[u8]) -> u16 {
        let v6 = u16::from_be_bytes([frame[12], frame[13]]) == ETHERTYPE_IPV6;
        if v6 {
            let plen = u16::from_be_bytes([frame[18], frame[19]]);
            let nh = frame[20];
            let src: [u8; 16] = frame[22..38].try_into().unwrap();
            let dst: [u8; 16] = frame[38..54].try_into().unwrap();
            let p = checksum::pseudo_v6(src.into(), dst.into(), nh, u32::from(plen));
            checksum::fold(checksum::add(p, &frame[54..54 + plen as usize]))
        } else {
            assert_eq!(
                checksum::checksum(&frame[14..34]),
                0,
                "IPv4 header checksum"
            );
            let total = u16::from_be_bytes([frame[16], frame[17]]) as usize;
            let proto = frame[23];
            let src: [u8; 4] = frame[26..30].try_into().unwrap();
            let dst: [u8; 4] = frame[30..34].try_into().unwrap();
            let l4 = &frame[34..14 + total];
            let p = if proto == PROTO_ICMP {
                0
            } else {
                checksum::pseudo_v4(src.into(), dst.into(), proto, l4.len() as u16)
            };
            checksum::fold(checksum::add(p, l4))
        }
    }

    #[test]
    fn every_kind_verifies() {
        let opts = [2, 4, 0x05, 0xb4, 1, 1, 4, 2];
        let headers = [
            L4Header::Tcp(TcpHeader {
                src_port: 1,
                dst_port: 2,
                seq: 3,
                ack: 4,
                flags: tcp_flags::SYN,
                window: 5,
                options: &opts,
            }),
            L4Header::Udp {
                src_port: 5353,
                dst_port: 53,
            },
            L4Header::IcmpEcho {
                reply: true,
                ident: 7,
                seq: 8,
            },
        ];
        for ip in [v4(), v6()] {
            for h in &headers {
                for payload in [&b""[..], b"x", b"hello world, odd!"] {
                    let mut f = Vec::new();
                    build(
                        &mut f,
                        Mac::local(1),
                        Mac::local(2),
                        &ip,
                        &IpFields::default(),
                        h,
                        payload,
                    );
                    assert_eq!(verify_l4(&f), 0, "{ip:?} {h:?} {payload:?}");
                    assert_eq!(f.len(), frame_len(ip.header_len(), h.len(), payload.len()));
                }
            }
        }
    }

    #[test]
    fn short_frames_are_padded() {
        let mut f = Vec::new();
        let h = L4Header::IcmpEcho {
            reply: false,
            ident: 1,
            seq: 1,
        };
        build(
            &mut f,
            Mac::local(1),
            Mac::local(2),
            &v4(),
            &IpFields::default(),
            &h,
            b"",
        );
        assert_eq!(f.len(), MIN_FRAME);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 28);
        assert!(f[42..].iter().all(|&b| b == 0));
    }

    #[test]
    fn mac_display() {
        assert_eq!(Mac::local(0x01_0203_0405).to_string(), "02:01:02:03:04:05");
        assert_eq!(
            Mac([0xde, 0xad, 0xbe, 0xef, 0, 1]).to_string(),
            "de:ad:be:ef:00:01"
        );
    }
}
