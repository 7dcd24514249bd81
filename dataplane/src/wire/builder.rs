//! A small frame builder for tests: Ethernet, VLAN tags, IPv4 or IPv6 (with extension
//! headers), and a TCP, UDP, ICMP, ICMPv6 or opaque transport, with correct lengths
//! and checksums.

use super::checksum;
use super::ip::IpProtocol;

/// A frame to build.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    /// (TPID, TCI) of each tag, outer first.
    pub vlans: Vec<(u16, u16)>,
    pub ip: Ip,
    pub l4: Transport,
    pub payload: Vec<u8>,
    /// Zero bytes after the datagram (Ethernet padding).
    pub padding: usize,
}

/// The network layer.
#[derive(Debug, Clone)]
pub(crate) enum Ip {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        ident: u16,
        dont_frag: bool,
        /// (offset in bytes, a multiple of 8; more fragments).
        frag: Option<(u16, bool)>,
        /// A multiple of 4 bytes, at most 40.
        options: Vec<u8>,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        hop_limit: u8,
        traffic_class: u8,
        flow_label: u32,
        exts: Vec<Ext>,
    },
    /// Not IP: this EtherType, then the payload (the transport is ignored).
    Other(u16),
}

/// An IPv6 extension header.
#[derive(Debug, Clone)]
pub(crate) enum Ext {
    /// Hop-by-hop, routing, destination options, mobility, HIP or Shim6 (length
    /// (len + 1) × 8), or AH (length (len + 2) × 4), filled with zeros.
    Generic { kind: u8, len: u8 },
    /// A fragment header: identification, offset in bytes, more fragments.
    Fragment { id: u32, offset: u16, more: bool },
}

/// The transport layer.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    Tcp {
        src: u16,
        dst: u16,
        seq: u32,
        ack: u32,
        /// The nine flag bits.
        flags: u16,
        window: u16,
        /// A multiple of 4 bytes, at most 40.
        options: Vec<u8>,
    },
    Udp {
        src: u16,
        dst: u16,
    },
    Icmp {
        msg_type: u8,
        code: u8,
        rest: [u8; 4],
    },
    Icmpv6 {
        msg_type: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// An opaque protocol: the payload follows the IP header directly.
    Other(u8),
}

impl Transport {
    pub fn protocol(&self) -> IpProtocol {
        match self {
            Transport::Tcp { .. } => IpProtocol::TCP,
            Transport::Udp { .. } => IpProtocol::UDP,
            Transport::Icmp { .. } => IpProtocol::ICMP,
            Transport::Icmpv6 { .. } => IpProtocol::ICMPV6,
            Transport::Other(p) => IpProtocol(*p),
        }
    }
}

impl Ext {
    fn kind(&self) -> u8 {
        match self {
            Ext::Generic { kind, .. } => *kind,
            Ext::Fragment { .. } => 44,
        }
    }

    fn bytes(&self, next: u8) -> Vec<u8> {
        match *self {
            Ext::Generic { kind, len } => {
                let total = if kind == 51 {
                    (usize::from(len) + 2) * 4
                } else {
                    (usize::from(len) + 1) * 8
                };
                let mut b = vec![0; total];
                b[0] = next;
                b[1] = len;
                b
            }
            Ext::Fragment { id, offset, more } => {
                let mut b = vec![next, 0];
                b.extend_from_slice(&((offset & 0xfff8) | u16::from(more)).to_be_bytes());
                b.extend_from_slice(&id.to_be_bytes());
                b
            }
        }
    }
}

impl Frame {
    /// Whether the datagram is a non-first fragment (the builder then leaves out the
    /// transport header).
    pub fn is_non_first_fragment(&self) -> bool {
        match &self.ip {
            Ip::V4 { frag, .. } => frag.is_some_and(|(offset, _)| offset != 0),
            Ip::V6 { exts, .. } => exts
                .iter()
                .any(|e| matches!(e, Ext::Fragment { offset, .. } if *offset != 0)),
            Ip::Other(_) => false,
        }
    }

    /// The transport header and payload.
    fn transport(&self) -> Vec<u8> {
        if self.is_non_first_fragment() {
            return self.payload.clone();
        }
        let pseudo_src_dst = match &self.ip {
            Ip::V4 { src, dst, .. } => checksum::sum(checksum::sum(0, src), dst),
            Ip::V6 { src, dst, .. } => checksum::sum(checksum::sum(0, src), dst),
            Ip::Other(_) => 0,
        };
        let mut b = Vec::new();
        let csum_at = match &self.l4 {
            Transport::Tcp {
                src,
                dst,
                seq,
                ack,
                flags,
                window,
                options,
            } => {
                b.extend_from_slice(&src.to_be_bytes());
                b.extend_from_slice(&dst.to_be_bytes());
                b.extend_from_slice(&seq.to_be_bytes());
                b.extend_from_slice(&ack.to_be_bytes());
                let offset = ((20 + options.len()) / 4) as u16;
                b.extend_from_slice(&((offset << 12) | (flags & 0x1ff)).to_be_bytes());
                b.extend_from_slice(&window.to_be_bytes());
                b.extend_from_slice(&[0, 0, 0, 0]);
                b.extend_from_slice(options);
                Some((16, true))
            }
            Transport::Udp { src, dst } => {
                b.extend_from_slice(&src.to_be_bytes());
                b.extend_from_slice(&dst.to_be_bytes());
                b.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                b.extend_from_slice(&[0, 0]);
                Some((6, true))
            }
            Transport::Icmp {
                msg_type,
                code,
                rest,
            } => {
                b.extend_from_slice(&[*msg_type, *code, 0, 0]);
                b.extend_from_slice(rest);
                Some((2, false))
            }
            Transport::Icmpv6 {
                msg_type,
                code,
                rest,
            } => {
                b.extend_from_slice(&[*msg_type, *code, 0, 0]);
                b.extend_from_slice(rest);
                Some((2, true))
            }
            Transport::Other(_) => None,
        };
        b.extend_from_slice(&self.payload);
        if let Some((at, pseudo)) = csum_at {
            let mut acc = 0;
            if pseudo {
                acc = pseudo_src_dst + u64::from(self.l4.protocol().0) + b.len() as u64;
            }
            let mut c = !checksum::fold(checksum::sum(acc, &b));
            if c == 0 && matches!(self.l4, Transport::Udp { .. }) {
                c = 0xffff;
            }
            b[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        b
    }

    /// The frame's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        for (tpid, tci) in &self.vlans {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        match &self.ip {
            Ip::V4 {
                src,
                dst,
                ttl,
                ident,
                dont_frag,
                frag,
                options,
            } => {
                f.extend_from_slice(&0x0800u16.to_be_bytes());
                let l4 = self.transport();
                let header_len = 20 + options.len();
                let mut h = vec![0x40 | (header_len / 4) as u8, 0];
                h.extend_from_slice(&((header_len + l4.len()) as u16).to_be_bytes());
                h.extend_from_slice(&ident.to_be_bytes());
                let (offset, more) = frag.unwrap_or((0, false));
                let flags = (u16::from(*dont_frag) << 14) | (u16::from(more) << 13);
                h.extend_from_slice(&(flags | (offset >> 3)).to_be_bytes());
                h.extend_from_slice(&[*ttl, self.l4.protocol().0, 0, 0]);
                h.extend_from_slice(src);
                h.extend_from_slice(dst);
                h.extend_from_slice(options);
                let c = checksum::checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
                f.extend_from_slice(&h);
                f.extend_from_slice(&l4);
            }
            Ip::V6 {
                src,
                dst,
                hop_limit,
                traffic_class,
                flow_label,
                exts,
            } => {
                f.extend_from_slice(&0x86ddu16.to_be_bytes());
                let mut chain = Vec::new();
                for (i, ext) in exts.iter().enumerate() {
                    let next = exts.get(i + 1).map_or(self.l4.protocol().0, |e| e.kind());
                    chain.extend_from_slice(&ext.bytes(next));
                }
                chain.extend_from_slice(&self.transport());
                let first = exts.first().map_or(self.l4.protocol().0, |e| e.kind());
                let word =
                    (6u32 << 28) | (u32::from(*traffic_class) << 20) | (flow_label & 0xfffff);
                f.extend_from_slice(&word.to_be_bytes());
                f.extend_from_slice(&(chain.len() as u16).to_be_bytes());
                f.extend_from_slice(&[first, *hop_limit]);
                f.extend_from_slice(src);
                f.extend_from_slice(dst);
                f.extend_from_slice(&chain);
            }
            Ip::Other(ethertype) => {
                f.extend_from_slice(&ethertype.to_be_bytes());
                f.extend_from_slice(&self.payload);
            }
        }
        f.resize(f.len() + self.padding, 0);
        f
    }
}
