//! What IPv4 and IPv6 share: protocol numbers and fragment information.

use std::fmt;

/// An IP protocol number (IPv4 "protocol", IPv6 "next header"), as IANA assigns them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// IPv6 hop-by-hop options (0).
    pub const HOP_BY_HOP: IpProtocol = IpProtocol(0);
    /// ICMP for IPv4 (1).
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// TCP (6).
    pub const TCP: IpProtocol = IpProtocol(6);
    /// UDP (17).
    pub const UDP: IpProtocol = IpProtocol(17);
    /// IPv6 routing header (43).
    pub const IPV6_ROUTING: IpProtocol = IpProtocol(43);
    /// IPv6 fragment header (44).
    pub const IPV6_FRAGMENT: IpProtocol = IpProtocol(44);
    /// GRE (47).
    pub const GRE: IpProtocol = IpProtocol(47);
    /// Encapsulating Security Payload (50): opaque, ends any header walk.
    pub const ESP: IpProtocol = IpProtocol(50);
    /// Authentication Header (51).
    pub const AH: IpProtocol = IpProtocol(51);
    /// ICMPv6 (58).
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    /// IPv6 "no next header" (59).
    pub const IPV6_NO_NEXT: IpProtocol = IpProtocol(59);
    /// IPv6 destination options (60).
    pub const IPV6_DEST_OPTS: IpProtocol = IpProtocol(60);
    /// SCTP (132).
    pub const SCTP: IpProtocol = IpProtocol(132);
    /// Mobility header (135).
    pub const MOBILITY: IpProtocol = IpProtocol(135);
    /// Host Identity Protocol (139).
    pub const HIP: IpProtocol = IpProtocol(139);
    /// Shim6 (140).
    pub const SHIM6: IpProtocol = IpProtocol(140);

    /// Whether this number names an IPv6 extension header that the parsers walk over
    /// (hop-by-hop, routing, fragment, destination options, AH, mobility, HIP, Shim6).
    /// ESP is not one of them: what follows it is encrypted.
    #[inline]
    pub const fn is_ipv6_extension(self) -> bool {
        matches!(self.0, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140)
    }
}

impl fmt::Debug for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpProtocol({self})")
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            IpProtocol::HOP_BY_HOP => "HOPOPT",
            IpProtocol::ICMP => "ICMP",
            IpProtocol::TCP => "TCP",
            IpProtocol::UDP => "UDP",
            IpProtocol::IPV6_ROUTING => "IPv6-Route",
            IpProtocol::IPV6_FRAGMENT => "IPv6-Frag",
            IpProtocol::GRE => "GRE",
            IpProtocol::ESP => "ESP",
            IpProtocol::AH => "AH",
            IpProtocol::ICMPV6 => "ICMPv6",
            IpProtocol::IPV6_NO_NEXT => "IPv6-NoNxt",
            IpProtocol::IPV6_DEST_OPTS => "IPv6-Opts",
            IpProtocol::SCTP => "SCTP",
            IpProtocol::MOBILITY => "Mobility",
            IpProtocol::HIP => "HIP",
            IpProtocol::SHIM6 => "Shim6",
            IpProtocol(n) => return write!(f, "{n}"),
        };
        write!(f, "{} ({name})", self.0)
    }
}

/// The fragmentation fields of a fragmented IP datagram (IPv4 with MF set or a nonzero
/// offset, or IPv6 with a fragment header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// The identification: 16 bits for IPv4, 32 bits for IPv6.
    pub id: u32,
    /// Where this fragment's data goes in the reassembled payload, in bytes (always a
    /// multiple of 8).
    pub offset: u16,
    /// The more-fragments flag: other fragments follow this one.
    pub more: bool,
}

impl Fragment {
    /// Whether this is the first fragment (offset 0): the only one that can hold the
    /// upper-layer header.
    #[inline]
    pub const fn is_first(&self) -> bool {
        self.offset == 0
    }
}
