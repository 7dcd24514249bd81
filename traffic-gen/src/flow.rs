//! One flow's packets between being planned and being written: compact descriptors in
//! time order plus the flow's application bytes, turned into frames one at a time as
//! the generator hands them out.

use std::ops::Range;

use crate::frame::{self, IpFields, IpPair, L4Header, Mac, TcpHeader};
use crate::hosts::Os;

/// The two ends of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client = 0,
    Server = 1,
}

impl Side {
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    pub(crate) fn idx(self) -> usize {
        self as usize
    }
}

/// TCP options of one segment, encoded when the frame is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpOpts {
    None,
    /// NOP, NOP, timestamps.
    Ts {
        val: u32,
        ecr: u32,
    },
    /// The options of a SYN or SYN-ACK, laid out the way `os` does.
    Syn {
        os: Os,
        mss: u16,
        wscale: u8,
        ts: Option<(u32, u32)>,
    },
}

impl TcpOpts {
    /// Encoded length in bytes.
    pub(crate) fn len(&self) -> usize {
        let mut buf = [0u8; 40];
        self.encode(&mut buf)
    }

    /// Writes the options into `buf`, returning their length (a multiple of 4).
    fn encode(&self, buf: &mut [u8; 40]) -> usize {
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            buf[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        let ts_bytes = |val: u32, ecr: u32| {
            let mut b = [8u8, 10, 0, 0, 0, 0, 0, 0, 0, 0];
            b[2..6].copy_from_slice(&val.to_be_bytes());
            b[6..10].copy_from_slice(&ecr.to_be_bytes());
            b
        };
        match *self {
            TcpOpts::None => {}
            TcpOpts::Ts { val, ecr } => {
                put(&[1, 1]);
                put(&ts_bytes(val, ecr));
            }
            TcpOpts::Syn {
                os,
                mss,
                wscale,
                ts,
            } => {
                let m = mss.to_be_bytes();
                put(&[2, 4, m[0], m[1]]);
                match (os, ts) {
                    (Os::Linux, Some((val, ecr))) => {
                        put(&[4, 2]);
                        put(&ts_bytes(val, ecr));
                        put(&[1, 3, 3, wscale]);
                    }
                    (Os::Linux, None) => put(&[1, 1, 4, 2, 1, 3, 3, wscale]),
                    (Os::Mac, Some((val, ecr))) => {
                        put(&[1, 3, 3, wscale, 1, 1]);
                        put(&ts_bytes(val, ecr));
                        put(&[4, 2, 0, 0]);
                    }
                    (Os::Windows, _) | (Os::Mac, None) => {
                        put(&[1, 3, 3, wscale, 1, 1, 4, 2]);
                    }
                }
            }
        }
        debug_assert_eq!(n % 4, 0);
        n
    }
}

/// The transport part of a planned packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        opts: TcpOpts,
    },
    Udp,
    Echo {
        reply: bool,
        ident: u16,
        seq: u16,
    },
}

#[derive(Debug, Clone)]
struct Planned {
    t: u64,
    from: Side,
    l4: L4,
    data: Range<u32>,
}

/// Addresses and per-direction IP header state of a flow.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub client_mac: Mac,
    pub server_mac: Mac,
    /// Client to server.
    pub ip: IpPair,
    pub client_port: u16,
    pub server_port: u16,
    /// TTL per side as seen at the capture point.
    pub ttl: [u8; 2],
    /// Next IPv4 identification per side.
    pub ip_id: [u16; 2],
    /// IPv6 flow label per side.
    pub flow_label: [u32; 2],
}

/// A flow's planned packets and its application bytes.
#[derive(Debug, Clone)]
pub(crate) struct FlowPackets {
    ends: Endpoints,
    arena: Vec<u8>,
    planned: Vec<Planned>,
    next: usize,
    sorted: bool,
}

impl FlowPackets {
    pub(crate) fn new(ends: Endpoints) -> FlowPackets {
        FlowPackets {
            ends,
            arena: Vec::new(),
            planned: Vec::new(),
            next: 0,
            sorted: true,
        }
    }

    pub(crate) fn ends(&self) -> &Endpoints {
        &self.ends
    }

    /// Stores application bytes, returning where they lie for [`FlowPackets::push`].
    pub(crate) fn store(&mut self, bytes: &[u8]) -> Range<u32> {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        start..self.arena.len() as u32
    }

    /// Plans a packet at time `t` from `from`, carrying the stored bytes `data`.
    pub(crate) fn push(&mut self, t: u64, from: Side, l4: L4, data: Range<u32>) {
        if self.planned.last().is_some_and(|p| p.t > t) {
            self.sorted = false;
        }
        self.planned.push(Planned { t, from, l4, data });
    }

    /// Plans a packet carrying `payload` (stored first).
    pub(crate) fn push_bytes(&mut self, t: u64, from: Side, l4: L4, payload: &[u8]) {
        let data = self.store(payload);
        self.push(t, from, l4, data);
    }

    /// Puts the planned packets in time order (stable: packets planned at the same
    /// instant keep the order they were planned in).
    pub(crate) fn finish(&mut self) {
        if !self.sorted {
            self.planned.sort_by_key(|p| p.t);
            self.sorted = true;
        }
    }

    /// Packets planned.
    pub(crate) fn len(&self) -> usize {
        self.planned.len()
    }

    /// Time of the first planned packet.
    pub(crate) fn first_time(&self) -> Option<u64> {
        self.planned.first().map(|p| p.t)
    }

    /// Time of the last planned packet.
    pub(crate) fn last_time(&self) -> Option<u64> {
        self.planned.last().map(|p| p.t)
    }

    /// Total bytes of all frames.
    pub(crate) fn total_bytes(&self) -> u64 {
        let ip = self.ends.ip.header_len();
        self.planned
            .iter()
            .map(|p| frame::frame_len(ip, l4_len(&p.l4), p.data.len()) as u64)
            .sum()
    }

    /// Time of the next packet not yet written.
    pub(crate) fn next_time(&self) -> Option<u64> {
        self.planned.get(self.next).map(|p| p.t)
    }

    /// Writes the next packet's frame, returning its time and the frame.
    pub(crate) fn write_next(&mut self) -> Option<(u64, Vec<u8>)> {
        debug_assert!(self.sorted, "write_next before finish");
        let p = self.planned.get(self.next)?.clone();
        self.next += 1;
        if self.next == self.planned.len() {
            // The flow is done: give its memory back at once.
            self.planned = Vec::new();
            self.next = 0;
        }
        let e = &mut self.ends;
        let s = p.from.idx();
        let (src_mac, dst_mac, ip, src_port, dst_port) = match p.from {
            Side::Client => (
                e.client_mac,
                e.server_mac,
                e.ip,
                e.client_port,
                e.server_port,
            ),
            Side::Server => (
                e.server_mac,
                e.client_mac,
                e.ip.reversed(),
                e.server_port,
                e.client_port,
            ),
        };
        let fields = IpFields {
            ttl: e.ttl[s],
            ident: e.ip_id[s],
            dont_fragment: true,
            flow_label: e.flow_label[s],
        };
        e.ip_id[s] = e.ip_id[s].wrapping_add(1);
        let mut opt_buf = [0u8; 40];
        let header = match p.l4 {
            L4::Tcp {
                seq,
                ack,
                flags,
                window,
                opts,
            } => {
                let n = opts.encode(&mut opt_buf);
                L4Header::Tcp(TcpHeader {
                    src_port,
                    dst_port,
                    seq,
                    ack,
                    flags,
                    window,
                    options: &opt_buf[..n],
                })
            }
            L4::Udp => L4Header::Udp { src_port, dst_port },
            L4::Echo { reply, ident, seq } => L4Header::IcmpEcho { reply, ident, seq },
        };
        let payload = &self.arena[p.data.start as usize..p.data.end as usize];
        let mut out = Vec::with_capacity(frame::frame_len(
            ip.header_len(),
            header.len(),
            payload.len(),
        ));
        frame::build(&mut out, src_mac, dst_mac, &ip, &fields, &header, payload);
        if self.planned.is_empty() {
            self.arena = Vec::new();
        }
        Some((p.t, out))
    }
}

/// Bytes of the transport header of `l4`.
pub(crate) fn l4_len(l4: &L4) -> usize {
    match l4 {
        L4::Tcp { opts, .. } => frame::TCP_HEADER + opts.len(),
        L4::Udp => frame::UDP_HEADER,
        L4::Echo { .. } => frame::ICMP_ECHO_HEADER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_option_layouts() {
        let cases = [
            (Os::Linux, true, 20),
            (Os::Linux, false, 12),
            (Os::Windows, false, 12),
            (Os::Mac, true, 24),
            (Os::Mac, false, 12),
        ];
        for (os, ts, len) in cases {
            let o = TcpOpts::Syn {
                os,
                mss: 1460,
                wscale: 7,
                ts: ts.then_some((1, 0)),
            };
            assert_eq!(o.len(), len, "{os:?} ts={ts}");
        }
        assert_eq!(TcpOpts::Ts { val: 1, ecr: 2 }.len(), 12);
        assert_eq!(TcpOpts::None.len(), 0);
    }
}
