//! The one-shot parse: every layer of a frame walked once, offsets and the fields the
//! stages need returned by value, nothing allocated.
//!
//! [`parse`] fails only when the frame gives no trustworthy network-layer addresses:
//! the Ethernet header or a VLAN tag is cut off, or an IPv4/IPv6 header is cut off or
//! malformed. Once the IP header is good it always succeeds, and what went wrong
//! above it is reported in [`ParsedPacket::l4`], so a stage can still steer the packet
//! on its addresses:
//!
//! - the capture ended early (the IP length says there is more than was captured):
//!   [`ParsedPacket::truncated`] is set; an L4 header (or IPv6 extension header) the
//!   capture cut off is [`L4::Truncated`]; a TCP header whose fixed 20 bytes were
//!   captured but whose options were cut is still [`L4::Tcp`], its options range
//!   clamped;
//! - the packet itself is wrong (an L4 header longer than the IP payload, a TCP data
//!   offset below 5, a UDP length below 8 or beyond the IP payload, an IPv6
//!   extension-header chain that is too long or runs past the payload length): the
//!   layer is [`L4::Invalid`], with the error.
//!
//! Fragments set [`ParsedPacket::fragment`]. A non-first fragment has no L4 header:
//! [`L4::Fragment`], its data the payload. A first fragment shows its L4 header when it
//! holds all of it (a first fragment too short for its header is [`L4::Invalid`]); its
//! UDP length counts the whole datagram and is not checked against the fragment. A UDP
//! length shorter than the IP payload ends the UDP data; the bytes after it are
//! ignored, like Ethernet padding.
//!
//! Non-IP EtherTypes (ARP, LLDP, NSH, MPLS, an 802.3 length, a third VLAN tag) are not
//! errors: they are [`L3::Other`].

use std::ops::Range;

use super::error::{Layer, WireError};
use super::ethernet::{self, EtherType, EthernetFrame};
use super::icmp::IcmpPacket;
use super::icmpv6::Icmpv6Packet;
use super::ip::{Fragment, IpProtocol};
use super::ipv4::{self, Ipv4Packet};
use super::ipv6::{self, Ipv6Packet, WalkEnd, walk_ext_headers};
use super::tcp::{self, TcpFlags, TcpSegment};
use super::udp::{self, UdpDatagram};
use super::vlan::{self, VlanTag};

/// What [`parse`] found in a frame. Offsets are into the frame, and always within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPacket {
    /// Ethernet destination address.
    pub dst_mac: [u8; 6],
    /// Ethernet source address.
    pub src_mac: [u8; 6],
    /// VLAN id of the first (outer) tag, if the frame is tagged.
    pub outer_vlan: Option<u16>,
    /// VLAN id of the second (inner) tag of a QinQ frame.
    pub inner_vlan: Option<u16>,
    /// The EtherType after the VLAN tags (up to two tags are stepped over).
    pub ethertype: EtherType,
    /// Where the network-layer header starts.
    pub l3_offset: usize,
    /// The network layer.
    pub l3: L3,
    /// Where the IP datagram ends: at its total (IPv4) or payload (IPv6) length, or at
    /// the end of the frame if the capture stopped first. Ethernet padding lies after
    /// it. For non-IP frames, the end of the frame.
    pub l3_end: usize,
    /// The fragment fields of a fragmented datagram (IPv4 with MF or a nonzero offset,
    /// IPv6 with a fragment header).
    pub fragment: Option<Fragment>,
    /// Where the header reported in [`l4`](Self::l4) starts: after the IPv4 header or
    /// the IPv6 extension headers (for [`L4::Fragment`], where the fragment data
    /// starts; for [`L4::Truncated`] and [`L4::Invalid`], where the header that could
    /// not be read starts). For non-IP frames, `l3_offset`.
    pub l4_offset: usize,
    /// The transport layer.
    pub l4: L4,
    /// The application payload: TCP or UDP data, the ICMP body after its 8-byte
    /// header, the data of a non-first fragment or of another protocol; for non-IP
    /// frames, everything after the Ethernet header and tags. Empty for
    /// [`L4::Truncated`] and [`L4::Invalid`]. Clamped to the captured bytes:
    /// `start <= end <= frame.len()`.
    pub payload: Range<usize>,
    /// The frame ends before the IP datagram does: the capture's snapshot length cut
    /// the packet (or the IP length field overstates it; the capture record's
    /// original length tells the two apart).
    pub truncated: bool,
}

/// The network layer of a [`ParsedPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    /// IPv4.
    Ipv4(Ipv4Info),
    /// IPv6.
    Ipv6(Ipv6Info),
    /// Not IP: the EtherType (ARP, LLDP, NSH, ...).
    Other(EtherType),
}

/// The IPv4 header fields of a [`ParsedPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Info {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// The protocol field.
    pub protocol: IpProtocol,
    /// Time to live.
    pub ttl: u8,
    /// The total length field.
    pub total_len: u16,
    /// The identification field.
    pub ident: u16,
    /// The don't-fragment flag.
    pub dont_frag: bool,
    /// The more-fragments flag.
    pub more_frags: bool,
    /// The fragment offset, in bytes.
    pub frag_offset: u16,
}

/// The IPv6 header fields of a [`ParsedPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Info {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// The fixed header's next header field (the first extension header, if any).
    pub next_header: IpProtocol,
    /// Hop limit.
    pub hop_limit: u8,
    /// The payload length field.
    pub payload_len: u16,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// How many extension headers were stepped over.
    pub ext_headers: u8,
}

/// The transport layer of a [`ParsedPacket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L4 {
    /// A TCP header (its fixed 20 bytes at least were captured).
    Tcp(TcpInfo),
    /// A UDP header.
    Udp(UdpInfo),
    /// An ICMP header.
    Icmp(IcmpInfo),
    /// An ICMPv6 header.
    Icmpv6(IcmpInfo),
    /// Another protocol, not parsed (ESP, GRE, SCTP, "no next header", ...); its bytes
    /// are the payload.
    Other(IpProtocol),
    /// A non-first fragment of a datagram of this protocol: no L4 header, the
    /// fragment data is the payload.
    Fragment(IpProtocol),
    /// The capture ended inside this header (an L4 header, or an IPv6 extension
    /// header while walking the chain).
    Truncated {
        /// The protocol of the header that was cut off.
        protocol: IpProtocol,
        /// TCP or UDP ports, if the capture kept them.
        ports: Option<(u16, u16)>,
    },
    /// The header is wrong: it does not fit in the IP payload, or a field is invalid.
    Invalid {
        /// The protocol of the bad header.
        protocol: IpProtocol,
        /// TCP or UDP ports, if they are there.
        ports: Option<(u16, u16)>,
        /// What is wrong.
        error: WireError,
    },
    /// The frame is not IPv4 or IPv6.
    NotIp,
}

/// The TCP header fields of a [`ParsedPacket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Control flags.
    pub flags: TcpFlags,
    /// Receive window (not scaled).
    pub window: u16,
    /// Header length in bytes (data offset × 4), at least 20.
    pub header_len: usize,
    /// Where the options lie in the frame; shorter than `header_len - 20` if the
    /// capture cut them.
    pub options: Range<usize>,
}

/// The UDP header fields of a [`ParsedPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The length field (header and data). It ends the payload when shorter than the
    /// IP payload; a length beyond the IP payload makes the datagram
    /// [`L4::Invalid`], except in a first fragment, where it counts the whole
    /// reassembled datagram.
    pub length: u16,
}

/// The ICMP or ICMPv6 header fields of a [`ParsedPacket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpInfo {
    /// Message type.
    pub msg_type: u8,
    /// Message code.
    pub code: u8,
}

impl ParsedPacket {
    /// IPv4 source and destination addresses, as flow hashing takes them.
    #[inline]
    pub fn ipv4_addrs(&self) -> Option<([u8; 4], [u8; 4])> {
        match &self.l3 {
            L3::Ipv4(ip) => Some((ip.src, ip.dst)),
            _ => None,
        }
    }

    /// IPv6 source and destination addresses, as flow hashing takes them.
    #[inline]
    pub fn ipv6_addrs(&self) -> Option<([u8; 16], [u8; 16])> {
        match &self.l3 {
            L3::Ipv6(ip) => Some((ip.src, ip.dst)),
            _ => None,
        }
    }

    /// Source and destination ports of a TCP or UDP header that is there: `None` for
    /// other protocols, non-first fragments, and headers that are truncated or invalid
    /// (their ports, when captured, are in [`L4::Truncated`] and [`L4::Invalid`]).
    ///
    /// A first fragment has ports and its later fragments do not; to keep every
    /// fragment of a datagram on one flow (as NICs do for RSS), hash fragments on
    /// their addresses alone.
    #[inline]
    pub fn ports(&self) -> Option<(u16, u16)> {
        match &self.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
    }

    /// The upper-layer protocol: IPv4's protocol field, or for IPv6 the header the
    /// extension-header walk ended at. `None` for non-IP frames.
    #[inline]
    pub fn ip_protocol(&self) -> Option<IpProtocol> {
        match &self.l4 {
            L4::Tcp(_) => Some(IpProtocol::TCP),
            L4::Udp(_) => Some(IpProtocol::UDP),
            L4::Icmp(_) => Some(IpProtocol::ICMP),
            L4::Icmpv6(_) => Some(IpProtocol::ICMPV6),
            L4::Other(p) | L4::Fragment(p) => Some(*p),
            L4::Truncated { protocol, .. } | L4::Invalid { protocol, .. } => Some(*protocol),
            L4::NotIp => None,
        }
    }

    /// The payload bytes of `frame` (the frame this was parsed from).
    #[inline]
    pub fn payload_bytes<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        frame.get(self.payload.clone()).unwrap_or_default()
    }
}

/// The bytes of `frame` from `offset` on (empty past the end).
#[inline(always)]
fn tail(frame: &[u8], offset: usize) -> &[u8] {
    frame.get(offset..).unwrap_or_default()
}

/// What the network and transport layers of a frame hold: the parts of a
/// [`ParsedPacket`] above Ethernet.
struct Upper {
    l3: L3,
    l3_end: usize,
    fragment: Option<Fragment>,
    truncated: bool,
    l4_offset: usize,
    l4: L4,
    payload: Range<usize>,
}

/// Parses an Ethernet frame down to its transport header; see the
/// [module documentation](self) for what fails and what is reported.
#[inline]
pub fn parse(frame: &[u8]) -> Result<ParsedPacket, WireError> {
    let Some(eth) = frame.first_chunk::<{ ethernet::HEADER_LEN }>() else {
        return Err(WireError::truncated(
            Layer::Ethernet,
            ethernet::HEADER_LEN,
            frame.len(),
        ));
    };
    let eth = EthernetFrame::new_unchecked(eth);
    let mut ethertype = eth.ethertype();
    let mut offset = ethernet::HEADER_LEN;
    let mut vlans = [None; 2];
    for slot in &mut vlans {
        if !ethertype.is_vlan_tag() {
            break;
        }
        let rest = tail(frame, offset);
        let Some(tag) = rest.first_chunk::<{ vlan::HEADER_LEN }>() else {
            return Err(WireError::truncated(
                Layer::Vlan,
                vlan::HEADER_LEN,
                rest.len(),
            ));
        };
        let tag = VlanTag::new_unchecked(tag);
        *slot = Some(tag.vid());
        ethertype = tag.ethertype();
        offset += vlan::HEADER_LEN;
    }
    let [outer_vlan, inner_vlan] = vlans;
    let upper = match ethertype {
        EtherType::IPV4 => parse_ipv4(frame, offset)?,
        EtherType::IPV6 => parse_ipv6(frame, offset)?,
        _ => Upper {
            l3: L3::Other(ethertype),
            l3_end: frame.len(),
            fragment: None,
            truncated: false,
            l4_offset: offset,
            l4: L4::NotIp,
            payload: offset..frame.len(),
        },
    };
    Ok(ParsedPacket {
        dst_mac: eth.dst_addr(),
        src_mac: eth.src_addr(),
        outer_vlan,
        inner_vlan,
        ethertype,
        l3_offset: offset,
        l3: upper.l3,
        l3_end: upper.l3_end,
        fragment: upper.fragment,
        l4_offset: upper.l4_offset,
        l4: upper.l4,
        payload: upper.payload,
        truncated: upper.truncated,
    })
}

#[inline(always)]
fn parse_ipv4(frame: &[u8], start: usize) -> Result<Upper, WireError> {
    let rest = tail(frame, start);
    let Some(fixed) = rest.first_chunk::<{ ipv4::HEADER_LEN }>() else {
        return Err(WireError::truncated(
            Layer::Ipv4,
            ipv4::HEADER_LEN,
            rest.len(),
        ));
    };
    let ip = Ipv4Packet::new_unchecked(fixed);
    let header_len = ip.check(rest.len())?;
    let total_len = usize::from(ip.total_len());
    let l3_end = start + total_len.min(rest.len());
    let fragment = ip.fragment();
    let protocol = ip.protocol();
    let l4_start = start + header_len;
    let (l4, payload) = match fragment {
        Some(f) if !f.is_first() => (L4::Fragment(protocol), l4_start..l3_end),
        _ => parse_l4(
            frame,
            protocol,
            l4_start,
            start + total_len,
            l3_end,
            fragment.is_some(),
        ),
    };
    Ok(Upper {
        l3: L3::Ipv4(Ipv4Info {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            protocol,
            ttl: ip.ttl(),
            total_len: ip.total_len(),
            ident: ip.ident(),
            dont_frag: ip.dont_frag(),
            more_frags: ip.more_frags(),
            frag_offset: ip.frag_offset(),
        }),
        l3_end,
        fragment,
        truncated: total_len > rest.len(),
        l4_offset: l4_start,
        l4,
        payload,
    })
}

#[inline(always)]
fn parse_ipv6(frame: &[u8], start: usize) -> Result<Upper, WireError> {
    let rest = tail(frame, start);
    let Some(fixed) = rest.first_chunk::<{ ipv6::HEADER_LEN }>() else {
        return Err(WireError::truncated(
            Layer::Ipv6,
            ipv6::HEADER_LEN,
            rest.len(),
        ));
    };
    let ip = Ipv6Packet::new_unchecked(fixed);
    if ip.version() != 6 {
        return Err(WireError::malformed(Layer::Ipv6, "version field is not 6"));
    }
    let payload_len = usize::from(ip.payload_len());
    let payload_start = start + ipv6::HEADER_LEN;
    let declared_end = payload_start + payload_len;
    let l3_end = declared_end.min(frame.len());
    let payload = frame.get(payload_start..l3_end).unwrap_or_default();
    let walk = walk_ext_headers(ip.next_header(), payload, payload_len);
    let l4_start = payload_start + walk.offset;
    let (l4, payload) = match walk.end {
        WalkEnd::Upper => parse_l4(
            frame,
            walk.protocol,
            l4_start,
            declared_end,
            l3_end,
            walk.fragment.is_some(),
        ),
        WalkEnd::NonFirstFragment => (L4::Fragment(walk.protocol), l4_start..l3_end),
        WalkEnd::Truncated => (
            L4::Truncated {
                protocol: walk.protocol,
                ports: None,
            },
            l3_end..l3_end,
        ),
        WalkEnd::Invalid(error) => (
            L4::Invalid {
                protocol: walk.protocol,
                ports: None,
                error,
            },
            l3_end..l3_end,
        ),
    };
    Ok(Upper {
        l3: L3::Ipv6(Ipv6Info {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            next_header: ip.next_header(),
            hop_limit: ip.hop_limit(),
            payload_len: ip.payload_len(),
            traffic_class: ip.traffic_class(),
            flow_label: ip.flow_label(),
            ext_headers: walk.ext_headers,
        }),
        l3_end,
        fragment: walk.fragment,
        truncated: declared_end > frame.len(),
        l4_offset: l4_start,
        l4,
        payload,
    })
}

/// The ports of a TCP or UDP header of which `captured` holds the start.
#[inline(always)]
fn ports_of(protocol: IpProtocol, captured: &[u8]) -> Option<(u16, u16)> {
    match (protocol, captured.first_chunk::<4>()) {
        (IpProtocol::TCP | IpProtocol::UDP, Some(h)) => Some((
            u16::from_be_bytes([h[0], h[1]]),
            u16::from_be_bytes([h[2], h[3]]),
        )),
        _ => None,
    }
}

/// The first `N` bytes of an L4 header, or what to report when they are not there:
/// truncated if the capture cut them, invalid if the IP payload is too short for them.
#[inline(always)]
fn fixed_header<const N: usize>(
    captured: &[u8],
    declared: usize,
    layer: Layer,
    protocol: IpProtocol,
) -> Result<&[u8; N], L4> {
    match captured.first_chunk::<N>() {
        Some(h) => Ok(h),
        None => {
            let ports = ports_of(protocol, captured);
            Err(if declared < N {
                L4::Invalid {
                    protocol,
                    ports,
                    error: WireError::truncated(layer, N, declared),
                }
            } else {
                L4::Truncated { protocol, ports }
            })
        }
    }
}

/// Parses the L4 header of `protocol` at `start`, in a datagram that ends at
/// `declared_end` by its length field and at `end` in the capture; `fragmented` for a
/// first fragment. Returns the layer and the payload (empty at `end` when there is
/// none).
#[inline(always)]
fn parse_l4(
    frame: &[u8],
    protocol: IpProtocol,
    start: usize,
    declared_end: usize,
    end: usize,
    fragmented: bool,
) -> (L4, Range<usize>) {
    let captured = frame.get(start..end).unwrap_or_default();
    let declared = declared_end.saturating_sub(start);
    match protocol {
        IpProtocol::TCP => l4_tcp(captured, declared, start, end),
        IpProtocol::UDP => l4_udp(captured, declared, start, end, fragmented),
        IpProtocol::ICMP => match fixed_header::<8>(captured, declared, Layer::Icmp, protocol) {
            Ok(h) => {
                let icmp = IcmpPacket::new_unchecked(h);
                let info = IcmpInfo {
                    msg_type: icmp.msg_type(),
                    code: icmp.code(),
                };
                (L4::Icmp(info), start + icmp.header_len()..end)
            }
            Err(l4) => (l4, end..end),
        },
        IpProtocol::ICMPV6 => {
            match fixed_header::<8>(captured, declared, Layer::Icmpv6, protocol) {
                Ok(h) => {
                    let icmp = Icmpv6Packet::new_unchecked(h);
                    let info = IcmpInfo {
                        msg_type: icmp.msg_type(),
                        code: icmp.code(),
                    };
                    (L4::Icmpv6(info), start + icmp.header_len()..end)
                }
                Err(l4) => (l4, end..end),
            }
        }
        _ => (L4::Other(protocol), start..end),
    }
}

#[inline(always)]
fn l4_tcp(captured: &[u8], declared: usize, start: usize, end: usize) -> (L4, Range<usize>) {
    let h = match fixed_header::<{ tcp::HEADER_LEN }>(
        captured,
        declared,
        Layer::Tcp,
        IpProtocol::TCP,
    ) {
        Ok(h) => h,
        Err(l4) => return (l4, end..end),
    };
    let tcp = TcpSegment::new_unchecked(h);
    let ports = Some((tcp.src_port(), tcp.dst_port()));
    let invalid = |error| L4::Invalid {
        protocol: IpProtocol::TCP,
        ports,
        error,
    };
    let header_len = match tcp.check_data_offset() {
        Ok(len) => len,
        Err(error) => return (invalid(error), end..end),
    };
    if header_len > declared {
        return (
            invalid(WireError::truncated(Layer::Tcp, header_len, declared)),
            end..end,
        );
    }
    // The options may be cut by the capture (then the payload is empty).
    let header_end = start + header_len.min(captured.len());
    let info = TcpInfo {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq_number(),
        ack: tcp.ack_number(),
        flags: tcp.flags(),
        window: tcp.window_len(),
        header_len,
        options: start + tcp::HEADER_LEN..header_end,
    };
    (L4::Tcp(info), header_end..end)
}

#[inline(always)]
fn l4_udp(
    captured: &[u8],
    declared: usize,
    start: usize,
    end: usize,
    fragmented: bool,
) -> (L4, Range<usize>) {
    let h = match fixed_header::<{ udp::HEADER_LEN }>(
        captured,
        declared,
        Layer::Udp,
        IpProtocol::UDP,
    ) {
        Ok(h) => h,
        Err(l4) => return (l4, end..end),
    };
    let udp = UdpDatagram::new_unchecked(h);
    let ports = Some((udp.src_port(), udp.dst_port()));
    let invalid = |error| L4::Invalid {
        protocol: IpProtocol::UDP,
        ports,
        error,
    };
    if let Err(error) = udp.check_len_field() {
        return (invalid(error), end..end);
    }
    let length = usize::from(udp.len());
    // A first fragment's length counts the whole reassembled datagram.
    if length > declared && !fragmented {
        return (
            invalid(WireError::malformed(
                Layer::Udp,
                "length field exceeds the IP payload",
            )),
            end..end,
        );
    }
    let info = UdpInfo {
        src_port: udp.src_port(),
        dst_port: udp.dst_port(),
        length: udp.len(),
    };
    (
        L4::Udp(info),
        start + udp::HEADER_LEN..(start + length).min(end),
    )
}
