//! From a parsed frame ([`dataplane::wire::parse`]) to what detection looks at.

use dataplane::wire::{L3, L4, ParsedPacket};

use crate::engine::detect::{IcmpFields, PacketInfo, TcpFields};
use crate::engine::flow::Addr;

/// A decoded IP packet.
#[derive(Debug, Clone, Copy)]
pub struct Decoded {
    /// The detection view (flow fields still empty).
    pub info: PacketInfo,
    /// The TCP flags, sequence and acknowledgment numbers, for TCP.
    pub tcp: Option<TcpFields>,
    /// Where the payload lies in the frame.
    pub payload: (usize, usize),
    /// The IP datagram's length as captured.
    pub ip_len: u32,
}

/// Decodes an IP packet; `None` for frames that are not IP.
pub fn decode(frame: &[u8], p: &ParsedPacket) -> Option<Decoded> {
    let (src, dst, ttl, tos, ip_id, fragbits) = match &p.l3 {
        L3::Ipv4(ip) => {
            let flags = frame.get(p.l3_offset + 6).copied().unwrap_or(0);
            let bits = u8::from(ip.more_frags)
                | u8::from(ip.dont_frag) << 1
                | u8::from(flags & 0x80 != 0) << 2;
            let tos = frame.get(p.l3_offset + 1).copied().unwrap_or(0);
            (
                Addr::V4(ip.src),
                Addr::V4(ip.dst),
                ip.ttl,
                tos,
                ip.ident,
                bits,
            )
        }
        L3::Ipv6(ip) => {
            let bits = p.fragment.map_or(0, |f| u8::from(f.more));
            (
                Addr::V6(ip.src),
                Addr::V6(ip.dst),
                ip.hop_limit,
                ip.traffic_class,
                0,
                bits,
            )
        }
        L3::Other(_) => return None,
    };
    let protocol = p.ip_protocol().map_or(0, |x| x.0);
    let (sport, dport) = match &p.l4 {
        L4::Tcp(t) => (t.src_port, t.dst_port),
        L4::Udp(u) => (u.src_port, u.dst_port),
        _ => (0, 0),
    };
    let tcp = match &p.l4 {
        L4::Tcp(t) => Some(TcpFields {
            flags: t.flags.bits(),
            seq: t.seq,
            ack: t.ack,
            window: t.window,
        }),
        _ => None,
    };
    let icmp = match &p.l4 {
        L4::Icmp(i) | L4::Icmpv6(i) => {
            let echo = matches!(
                (protocol, i.msg_type),
                (1, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) | (58, 128 | 129)
            );
            let word = |at: usize| -> u16 {
                let o = p.l4_offset + at;
                match frame.get(o..o + 2) {
                    Some(b) if echo => u16::from_be_bytes([b[0], b[1]]),
                    _ => 0,
                }
            };
            Some(IcmpFields {
                kind: i.msg_type,
                code: i.code,
                id: word(4),
                seq: word(6),
            })
        }
        _ => None,
    };
    let payload = (p.payload.start, p.payload.end);
    let info = PacketInfo {
        protocol,
        src,
        dst,
        sport,
        dport,
        ttl,
        tos,
        ip_id,
        fragbits,
        frag_offset: p.fragment.map_or(0, |f| f.offset),
        fragment: p.fragment.is_some(),
        tcp,
        icmp,
        dsize: payload.1.saturating_sub(payload.0),
        from_client: None,
        established: false,
        rebuilt: false,
        service: None,
        stream_bytes: [0; 2],
    };
    Some(Decoded {
        info,
        tcp,
        payload,
        ip_len: p.l3_end.saturating_sub(p.l3_offset) as u32,
    })
}
