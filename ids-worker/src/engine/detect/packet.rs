//! What detection knows about the packet (or reassembled data) at hand, and the tests
//! on it that need no data buffer: header, service, flow options and `dsize`,
//! `flags`, `itype`... .

use crate::engine::flow::Addr;
use crate::engine::rules::{
    FlagsCheck, FlagsMode, FlowDirection, FlowOpts, FragbitsCheck, Header, PacketCheck, Protocol,
    StreamMode, StreamSizeDir,
};
use crate::engine::service::Service;

/// TCP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFields {
    /// Flag bits (FIN 0x01 ... CWR 0x80).
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window.
    pub window: u16,
}

/// ICMP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcmpFields {
    /// Type.
    pub kind: u8,
    /// Code.
    pub code: u8,
    /// Echo identifier (0 for other messages).
    pub id: u16,
    /// Echo sequence number.
    pub seq: u16,
}

/// The packet (or reassembled data) being inspected.
#[derive(Debug, Clone, Copy)]
pub struct PacketInfo {
    /// IP protocol number (of the transport header).
    pub protocol: u8,
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Source port (0 without ports).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 type of service (IPv6 traffic class).
    pub tos: u8,
    /// IPv4 identification.
    pub ip_id: u16,
    /// Fragment bits: 1 = more fragments, 2 = don't fragment, 4 = reserved.
    pub fragbits: u8,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    /// Part of a fragmented datagram.
    pub fragment: bool,
    /// TCP fields, for TCP.
    pub tcp: Option<TcpFields>,
    /// ICMP fields, for ICMP and ICMPv6.
    pub icmp: Option<IcmpFields>,
    /// Payload size (`dsize`).
    pub dsize: usize,
    /// Sent by the flow's client (Some(true)) or server.
    pub from_client: Option<bool>,
    /// The flow is established.
    pub established: bool,
    /// Reassembled data rather than a packet as captured.
    pub rebuilt: bool,
    /// The flow's service, if identified.
    pub service: Option<Service>,
    /// Payload bytes the client and the server sent so far.
    pub stream_bytes: [u64; 2],
}

/// Whether `protocol` (an IP protocol number) is the rule's protocol.
#[inline]
pub fn protocol_matches(rule: Protocol, protocol: u8) -> bool {
    match rule {
        Protocol::Ip => true,
        Protocol::Tcp => protocol == 6,
        Protocol::Udp => protocol == 17,
        Protocol::Icmp => protocol == 1 || protocol == 58,
    }
}

/// Whether the header's addresses (and ports, when `ports`) match, either way round
/// for bidirectional rules.
#[inline]
pub fn addresses_match(h: &Header, p: &PacketInfo, ports: bool) -> bool {
    let one_way = |src: Addr, sport: u16, dst: Addr, dport: u16| {
        (!ports || (h.src_ports.matches(sport) && h.dst_ports.matches(dport)))
            && addr_matches(&h.src, src)
            && addr_matches(&h.dst, dst)
    };
    one_way(p.src, p.sport, p.dst, p.dport)
        || (h.bidirectional && one_way(p.dst, p.dport, p.src, p.sport))
}

#[inline]
fn addr_matches(spec: &crate::engine::rules::addr::AddrSpec, a: Addr) -> bool {
    match a {
        Addr::V4(v) => spec.matches_v4(v),
        Addr::V6(v) => spec.matches_v6(v),
    }
}

/// The `flow` option.
#[inline]
pub fn flow_matches(f: &FlowOpts, p: &PacketInfo) -> bool {
    if let Some(d) = f.direction {
        let want = d == FlowDirection::ToServer;
        if p.from_client != Some(want) {
            return false;
        }
    }
    if !f.stateless
        && let Some(e) = f.established
        && e != p.established
    {
        return false;
    }
    match f.stream {
        StreamMode::OnlyStream if !p.rebuilt => return false,
        StreamMode::NoStream if p.rebuilt => return false,
        _ => {}
    }
    if let Some(frag) = f.fragments
        && frag != p.fragment
    {
        return false;
    }
    true
}

/// One header or flow test.
#[inline]
pub fn check_matches(c: &PacketCheck, p: &PacketInfo) -> bool {
    match c {
        PacketCheck::Dsize(r) => r.test(p.dsize as i64),
        PacketCheck::Itype(r) => p.icmp.is_some_and(|i| r.test(i64::from(i.kind))),
        PacketCheck::Icode(r) => p.icmp.is_some_and(|i| r.test(i64::from(i.code))),
        PacketCheck::IcmpId(id) => p.icmp.is_some_and(|i| i.id == *id),
        PacketCheck::IcmpSeq(s) => p.icmp.is_some_and(|i| i.seq == *s),
        PacketCheck::Ttl(r) => r.test(i64::from(p.ttl)),
        PacketCheck::Tos(r) => r.test(i64::from(p.tos)),
        PacketCheck::IpId(id) => p.ip_id == *id,
        PacketCheck::IpProto(r) => r.test(i64::from(p.protocol)),
        PacketCheck::Flags(f) => p.tcp.is_some_and(|t| flags_match(f, t.flags)),
        PacketCheck::Fragbits(f) => fragbits_match(f, p.fragbits),
        PacketCheck::Fragoffset(r) => r.test(i64::from(p.frag_offset)),
        PacketCheck::Seq(s) => p.tcp.is_some_and(|t| t.seq == *s),
        PacketCheck::Ack(a) => p.tcp.is_some_and(|t| t.ack == *a),
        PacketCheck::Window(r) => p.tcp.is_some_and(|t| r.test(i64::from(t.window))),
        PacketCheck::SameIp => p.src == p.dst,
        PacketCheck::StreamSize(dir, r) => {
            if p.tcp.is_none() {
                return false;
            }
            let [c, s] = p.stream_bytes.map(|b| b as i64);
            match dir {
                StreamSizeDir::Client => r.test(c),
                StreamSizeDir::Server => r.test(s),
                StreamSizeDir::Both => r.test(c) && r.test(s),
                StreamSizeDir::Either => r.test(c) || r.test(s),
            }
        }
    }
}

fn flags_match(f: &FlagsCheck, flags: u16) -> bool {
    // The ECN nonce bit (AE) is never part of a comparison.
    let have = flags & 0xff & !f.mask;
    let want = f.flags & !f.mask;
    match f.mode {
        FlagsMode::Exact => have == want,
        FlagsMode::All => have & want == want,
        FlagsMode::Any => have & want != 0,
        FlagsMode::Not => have != want,
    }
}

fn fragbits_match(f: &FragbitsCheck, bits: u8) -> bool {
    match f.mode {
        FlagsMode::Exact => bits == f.bits,
        FlagsMode::All => bits & f.bits == f.bits,
        FlagsMode::Any => bits & f.bits != 0,
        FlagsMode::Not => bits & f.bits == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt() -> PacketInfo {
        PacketInfo {
            protocol: 6,
            src: Addr::V4([10, 0, 0, 1]),
            dst: Addr::V4([10, 0, 0, 2]),
            sport: 40000,
            dport: 80,
            ttl: 64,
            tos: 0,
            ip_id: 7,
            fragbits: 2,
            frag_offset: 0,
            fragment: false,
            tcp: Some(TcpFields {
                flags: 0x12,
                ..TcpFields::default()
            }),
            icmp: None,
            dsize: 0,
            from_client: Some(false),
            established: false,
            rebuilt: false,
            service: None,
            stream_bytes: [0; 2],
        }
    }

    #[test]
    fn flags_and_fragbits() {
        let f = |mode, flags, mask| FlagsCheck { mode, flags, mask };
        assert!(flags_match(&f(FlagsMode::Exact, 0x12, 0), 0x12));
        assert!(!flags_match(&f(FlagsMode::Exact, 0x02, 0), 0x12));
        assert!(flags_match(&f(FlagsMode::All, 0x02, 0), 0x12));
        assert!(flags_match(&f(FlagsMode::Exact, 0x02, 0xc0), 0xc2));
        assert!(flags_match(&f(FlagsMode::Not, 0x04, 0), 0x12));
        let fb = FragbitsCheck {
            mode: FlagsMode::Not,
            bits: 1,
        };
        assert!(fragbits_match(&fb, 2) && !fragbits_match(&fb, 3));
    }

    #[test]
    fn flow_options() {
        let p = pkt();
        let mut f = FlowOpts::default();
        assert!(flow_matches(&f, &p));
        f.direction = Some(FlowDirection::ToServer);
        assert!(!flow_matches(&f, &p));
        f.direction = Some(FlowDirection::ToClient);
        f.established = Some(true);
        assert!(!flow_matches(&f, &p));
        f.stateless = true;
        assert!(flow_matches(&f, &p));
        f.stream = StreamMode::OnlyStream;
        assert!(!flow_matches(&f, &p));
        assert!(check_matches(
            &PacketCheck::Flags(FlagsCheck {
                mode: FlagsMode::Exact,
                flags: 0x12,
                mask: 0
            }),
            &p
        ));
    }
}
